// Runs before every page of a bot's tab. oTree pushes "move on" to wait pages
// (and "time is up" to pages with a timeout) over websockets; a bot asks again
// instead, so these sockets never open. oTree 6 sends to such sockets from its
// request threads, which can stall the whole server when a bot's socket is
// slow to drain. Live pages (/live) keep their real sockets.
(() => {
  const PUSHED = new Set(["/wait_page", "/subsession_wait_page", "/group_by_arrival_time", "/auto_advance"]);

  class QuietSocket extends EventTarget {
    constructor(url) {
      super();
      this.url = String(url);
      this.readyState = 0;
      this.protocol = "";
      this.extensions = "";
      this.bufferedAmount = 0;
      this.binaryType = "blob";
    }
    send() {}
    close() { this.readyState = 3; }
  }

  window.__botexQuietSockets = 0;
  window.WebSocket = new Proxy(window.WebSocket, {
    construct(RealSocket, args) {
      if (PUSHED.has(new URL(args[0], window.location.href).pathname)) {
        window.__botexQuietSockets += 1;
        return new QuietSocket(args[0]);
      }
      return new RealSocket(...args);
    },
  });
})();
