/* The agent's page: renders the state the bridge streams (Server-Sent Events) for one extension. */
"use strict";
(function () {
  var calls = {};   // call_id -> view
  var cards = {};   // number -> card
  var extension = "";
  var notified = {};
  var current = document.getElementById("current");
  var today = document.getElementById("today");
  var connection = document.getElementById("connection");
  var notifyButton = document.getElementById("notify");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function link(href, text) {
    var a = el("a", "", text);
    a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer";
    return a;
  }
  function clock(seconds) {
    if (!seconds) { return ""; }
    var d = new Date(seconds * 1000);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }
  function stateText(call) {
    if (call.state === "ringing") { return call.leg === "ringing" ? "Ringing" : "Ringing elsewhere"; }
    if (call.state === "answered") { return "Answered by " + call.answered_by; }
    if (call.state === "transferred") { return "Transferred to " + (call.transferred_to || "another extension"); }
    if (call.state === "ended") {
      if (call.transferred_to) { return "Ended (transferred to " + call.transferred_to + ")"; }
      return call.answered_by ? "Ended (answered by " + call.answered_by + ")" : "Ended (missed)";
    }
    return call.state;
  }

  function renderCard(call) {
    var card = cards[call.number] || {number: call.number, known: false, status: "not_in_itflow", links: {}};
    var box = el("article", "card " + (call.state === "ringing" && call.leg === "ringing" ? "ringing" : ""));
    box.setAttribute("data-call", call.call_id);
    var state = el("div", "state " + call.state, stateText(call));
    state.setAttribute("data-state", call.state);
    box.appendChild(state);
    box.appendChild(el("div", "number", call.number || "number withheld"));
    if (call.name) { box.appendChild(el("div", "caller-name", call.name)); }
    var links = card.links || {};
    var actions = el("div", "actions");
    if (card.known) {
      var client = el("div", "client", card.client_name);
      box.appendChild(client);
      if (card.name) {
        var contact = el("div", "contact", card.name + (card.title ? " - " + card.title : ""));
        if (card.important) { contact.appendChild(el("span", "important", "important")); }
        box.appendChild(contact);
      }
      if (card.status === "loading") {
        box.appendChild(el("div", "loading", "Fetching tickets from ITFlow…"));
      } else if (card.status === "unreachable") {
        box.appendChild(el("div", "problem", "ITFlow unreachable"));
      } else if (card.status === "ready") {
        box.appendChild(el("div", "open-tickets", card.open_tickets + " open ticket" + (card.open_tickets === 1 ? "" : "s")));
        var list = el("ul", "tickets");
        (card.tickets || []).forEach(function (t) {
          var item = el("li");
          var label = (t.number ? t.number + " " : "") + t.subject;
          item.appendChild(t.link ? link(t.link, label) : el("span", "", label));
          list.appendChild(item);
        });
        box.appendChild(list);
        if (card.balance) { box.appendChild(el("div", "balance", "Balance: " + card.balance)); }
      }
      if (links.client) { actions.appendChild(link(links.client, "Open client in ITFlow")); }
      if (links.new_ticket) { actions.appendChild(link(links.new_ticket, "New ticket")); }
    } else {
      box.appendChild(el("div", "unknown", "not in ITFlow"));
      if (links.add_contact) { actions.appendChild(link(links.add_contact, "Add contact in ITFlow")); }
    }
    box.appendChild(actions);
    return box;
  }

  function render() {
    var list = Object.keys(calls).map(function (id) { return calls[id]; });
    list.sort(function (a, b) { return b.started - a.started; });
    var live = list.filter(function (c) { return c.state !== "ended"; });
    current.textContent = "";
    if (!live.length && list.length) { live = [list[0]]; }
    if (!live.length) { current.appendChild(el("p", "empty", "No call right now.")); }
    live.forEach(function (call) { current.appendChild(renderCard(call)); });
    today.textContent = "";
    list.forEach(function (call) {
      var item = el("li");
      item.appendChild(el("span", "when", clock(call.started)));
      var card = cards[call.number];
      item.appendChild(el("span", "who", (call.number || "withheld") + (card && card.known ? " - " + card.client_name : "")));
      item.appendChild(el("span", "what", stateText(call)));
      today.appendChild(item);
    });
  }

  function notify(call) {
    if (call.state !== "ringing" || call.leg !== "ringing" || notified[call.call_id]) { return; }
    notified[call.call_id] = true;
    if (!("Notification" in window) || Notification.permission !== "granted") { return; }
    var card = cards[call.number];
    var body = (card && card.known) ? card.client_name + (card.name ? " - " + card.name : "") : "not in ITFlow";
    try { new Notification("Call from " + (call.number || "withheld"), {body: body, tag: call.call_id}); } catch (e) { /* no notifications here */ }
  }

  // The link was revoked (agent-link --revoke): what the page showed goes, and it says why.
  function revoked() {
    calls = {}; cards = {};
    render();
    current.textContent = "";
    current.appendChild(el("p", "empty", "This link no longer works: ask for a new one."));
    connection.textContent = "link revoked"; connection.className = "connection lost";
    callButton.hidden = true;
  }

  // The browser gave up on the stream: it retries by itself only when no answer came, never after
  // an error answer (a proxy's 502 while the bridge restarts, the bridge's 503 "too many open
  // pages"). A revoked link (404) ends the page; anything else is tried again, waiting longer
  // each time up to 30 s, until the stream opens.
  var FIRST_RETRY = 2000, LONGEST_RETRY = 30000;  // ms; the first as the stream's own retry
  var retryWait = FIRST_RETRY;
  function givenUp() {
    function later() {
      setTimeout(connect, retryWait);
      retryWait = Math.min(retryWait * 2, LONGEST_RETRY);
    }
    fetch(location.pathname, {method: "HEAD", cache: "no-store"}).then(function (response) {
      if (response.status === 404) { revoked(); } else { later(); }
    }, later);
  }

  function connect() {
    var source = new EventSource(location.pathname.replace(/\/$/, "") + "/events");
    source.addEventListener("open", function () {
      retryWait = FIRST_RETRY;
      connection.textContent = "live"; connection.className = "connection live";
    });
    source.addEventListener("error", function () {
      connection.textContent = "reconnecting…"; connection.className = "connection lost";
      if (source.readyState === EventSource.CLOSED) { givenUp(); }
    });
    source.addEventListener("state", function (message) {
      var state = JSON.parse(message.data);
      extension = state.extension;
      document.getElementById("extension").textContent = extension;
      calls = {}; cards = state.cards || {};
      state.calls.forEach(function (call) { calls[call.call_id] = call; notified[call.call_id] = notified[call.call_id] || call.leg !== "ringing"; });
      render();
    });
    source.addEventListener("call", function (message) {
      var call = JSON.parse(message.data).call;
      if (call.withdrawn) { delete calls[call.call_id]; } else { calls[call.call_id] = call; notify(call); }
      render();
    });
    source.addEventListener("card", function (message) {
      var card = JSON.parse(message.data).card;
      cards[card.number] = card;
      render();
    });
  }

  if ("Notification" in window && Notification.permission === "default") {
    notifyButton.hidden = false;
    notifyButton.addEventListener("click", function () {
      Notification.requestPermission().then(function () { notifyButton.hidden = true; });
    });
  }
  // Click to call: this page can open the tel: links of every site (ITFlow's numbers); offered
  // when the bridge places calls (its /call answers something other than 404).
  var callButton = document.getElementById("click-to-call");
  var page = location.origin + location.pathname.replace(/\/+$/, "");
  if (navigator.registerProtocolHandler && window.fetch) {
    fetch(page + "/call", {method: "HEAD", cache: "no-store"}).then(function (response) {
      if (response.status === 404) { return; }
      callButton.hidden = false;
      callButton.addEventListener("click", function () {
        try {
          navigator.registerProtocolHandler("tel", page + "/call?number=%s");
          callButton.textContent = "Phone links: asked the browser";
        } catch (error) {
          callButton.textContent = "Phone links: the browser refused (" + error.name + ")";
        }
      });
    });
  }
  connect();
}());
