// Preloaded (node --import) into servers that listen on every interface, such as server-everything's
// streamableHttp mode: binds them to 127.0.0.1 instead and prints "LISTENING <port>" on stderr, so a test can
// ask for port 0 and learn the port the server got.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] !== "number" && typeof args[0] !== "string") {
    return listen.apply(this, args);
  }

  const callback = args.find((a) => typeof a === "function");
  this.once("listening", () => console.error(`LISTENING ${this.address().port}`));
  return listen.call(this, { host: "127.0.0.1", port: Number(args[0]) }, callback);
};
