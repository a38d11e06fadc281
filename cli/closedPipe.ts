/**
 * A reader that stops early (`npm run ops -- status | head -3`) closes the pipe, and Node reports the next write
 * as an unhandled 'error' event: a stack trace. Instead the command goes on without the rest of its output and
 * ends as it would have, with its own exit code: a drain, a scale or a failover left half done because its reader
 * went away would be worse than output nobody reads. `onGone` lets an endless output (`status --watch`) stop.
 * Any other error of the stream is not ours to hide.
 */
export function continueWhenReaderGoes(stream: NodeJS.WritableStream, onGone: () => void = () => undefined): void {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    onGone();
  });
}
