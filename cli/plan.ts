import * as path from "node:path";
import { Command } from "commander";
import { continueWhenReaderGoes } from "./closedPipe";

/**
 * `npm run plan -- <stack>`: what `pulumi up` would build for a stack, without the Pulumi CLI,
 * credentials or network. Exit codes (in --help too): 0 planned, 1 the stack is refused, 2 usage.
 */
continueWhenReaderGoes(process.stdout);
continueWhenReaderGoes(process.stderr);

const cli = new Command("plan")
  .description("offline plan of a campus stack: resources, key inputs, outputs and warnings")
  .argument("[stack]", "stack name (stacks/Pulumi.<stack>.yaml)")
  .option("--stack-file <path>", "plan this stack file instead of stacks/Pulumi.<stack>.yaml")
  .option("--json", "print one JSON document {stack, stackFile, resources, outputs, installer, warnings, notes}")
  .option("--mermaid", "print a topology diagram (Mermaid) of the campus")
  .addHelpText("after", "\nExit codes: 0 planned; 1 the stack is refused (no such stack file, or every problem of an invalid one listed); 2 usage.")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .action(async (stack: string | undefined, opts: { stackFile?: string; json?: boolean; mermaid?: boolean }) => {
    // npm runs scripts from the package root; INIT_CWD is where the user typed the command.
    const target = opts.stackFile === undefined ? stack : path.resolve(process.env.INIT_CWD ?? process.cwd(), opts.stackFile);
    if (!target) cli.error("error: name a stack or give --stack-file PATH", { exitCode: 2 });
    if (opts.json && opts.mermaid) cli.error("error: choose --json or --mermaid, not both", { exitCode: 2 });
    // Loaded in steps: `--help` needs commander only, and a stack file is read and checked (yaml, zod)
    // before the Pulumi SDK and the program load, so a refusal comes in a fraction of a second.
    const [{ CampusConfigError }, { StackFileError }, { campusOfStackFile, readStackFile }] = await Promise.all([
      import("../components/config/campus.js"),
      import("../components/config/messages.js"),
      import("../components/config/stackFile.js"),
    ]);
    try {
      const file = readStackFile(target!);
      campusOfStackFile(file, new Date());
      const [{ campusProgram }, { planStack }, { planDocument, renderPlanMermaid, renderPlanText }] = await Promise.all([
        import("../components/program.js"),
        import("./plan/planStack.js"),
        import("./plan/render.js"),
      ]);
      const plan = await planStack(file, campusProgram);
      if (opts.json) process.stdout.write(`${JSON.stringify(planDocument(plan), null, 2)}\n`);
      else if (opts.mermaid) process.stdout.write(renderPlanMermaid(plan));
      else process.stdout.write(renderPlanText(plan));
    } catch (e) {
      const message = e instanceof CampusConfigError || e instanceof StackFileError ? e.message : `plan failed: ${(e as Error).message}`;
      if (opts.json) process.stdout.write(`${JSON.stringify({ error: message, problems: e instanceof CampusConfigError ? e.problems : [] }, null, 2)}\n`);
      process.stderr.write(`${message}\n`);
      process.exitCode = 1;
    }
  });

void cli.parseAsync();
