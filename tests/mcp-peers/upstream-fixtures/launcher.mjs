// Starts the command given in its arguments as a child sharing this process's stdio and waits for it, as npx
// does for a package's bin: the MCP server is then a grandchild of whoever started the launcher.
//
//   node launcher.mjs node fixture-server.mjs stdio
import { spawn } from "node:child_process";

const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: "inherit" });
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
