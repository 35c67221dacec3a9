/** What the FUSE-serving process's exit status says (fused/main.ts exits so, fused-client.ts reads it). */

/** Bad arguments or configuration (`<root>/fused.json`). */
export const EXIT_USAGE = 2;

/** Another process already serves the root (it won the instance lock): its client finds that one on the socket. */
export const EXIT_ALREADY_RUNNING = 3;
