/** Markdown helpers of the bench reports. */
export const pct = (r: number) => `${(r * 100).toFixed(1)} %`;

export const md = (head: string[], rows: Array<Array<string | number>>) =>
  [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
