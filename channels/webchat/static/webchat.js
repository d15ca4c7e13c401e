/*
 * Kai's chat page: talks to Rasa's socketio channel (channels/socketio.py).
 *
 * Protocol (Rasa's): emit "session_request" {session_id} on every (re)connect, get
 * "session_confirm" <id>; send the user event {message, session_id}; receive the bot
 * event with Rasa message dicts. Added by this project: "turn_end" {emotion} once the
 * bot has answered, which ends the typing indicator and updates the emotion badge, and
 * "session_refused" {reason} when the stored session id is not one this server issued
 * (its secret changed): the page then starts a new conversation.
 *
 * The session id and the visible history live in localStorage, so a reload shows the
 * same conversation and continues the same Rasa tracker.
 */
(function () {
  "use strict";

  var STORE_KEY = "kai.webchat";
  var HISTORY_LIMIT = 200;
  var TYPING_TIMEOUT_MS = 60000;
  var EMOTION_ICONS = {
    neutral: "😐", joy: "😊", sadness: "😢", anger: "😠",
    fear: "😨", surprise: "😮", disgust: "🤢"
  };

  var ui = {
    messages: document.getElementById("messages"),
    typing: document.getElementById("typing"),
    emotion: document.getElementById("emotion"),
    status: document.getElementById("status"),
    form: document.getElementById("composer"),
    input: document.getElementById("message"),
    send: document.getElementById("send"),
    newChat: document.getElementById("new-chat")
  };

  var state = loadState();
  var socket = null;
  var config = null;
  var typingTimer = null;

  state.history.forEach(function (entry) { renderMessage(entry.from, entry); });
  showEmotion(state.emotion);

  loadConfig();

  /* The socketio channel's settings; retried while the server is unreachable. */
  function loadConfig() {
    fetch("config.json")
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { setStatus("Chat unavailable: " + body.error, "offline"); return; }
          config = body;
          connect();
        });
      })
      .catch(function () {
        setStatus("Can't reach Kai, retrying…", "offline");
        setTimeout(loadConfig, 3000);
      });
  }

  function connect() {
    var namespace = config.namespace === "/" ? "" : config.namespace;
    socket = io(window.location.origin + namespace, { path: config.socketio_path });

    socket.on("connect", function () {
      setStatus("Connecting…", "connecting");
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (sessionId) {
      state.sessionId = typeof sessionId === "string" ? sessionId : sessionId.session_id;
      saveState();
      setStatus("Connected", "connected");
      setComposerEnabled(true);
    });
    socket.on("disconnect", function (reason) {
      setStatus("Reconnecting…", "offline");
      setComposerEnabled(false);
      setTyping(false);
      // The client retries by itself unless the server closed the session on purpose.
      if (reason === "io server disconnect") { socket.connect(); }
    });
    socket.on("session_refused", function () {
      // The server disconnects next, and the reconnect asks for a new session.
      state = { sessionId: null, history: [], emotion: null };
      saveState();
      ui.messages.textContent = "";
      showEmotion(null);
    });
    socket.on("connect_error", function () {
      setStatus("Can't reach Kai, retrying…", "offline");
    });
    socket.on(config.bot_message_evt, function (message) {
      addMessage("bot", toEntry(message), message.quick_replies || message.buttons);
    });
    socket.on("turn_end", function (turn) {
      setTyping(false);
      state.emotion = turn && turn.emotion ? turn.emotion : null;
      saveState();
      showEmotion(state.emotion);
    });
  }

  ui.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = ui.input.value.trim();
    if (!text || !socket || !socket.connected) { return; }
    sendText(text, text);
    ui.input.value = "";
    ui.input.focus();
  });

  ui.newChat.addEventListener("click", function () {
    state = { sessionId: null, history: [], emotion: null };
    saveState();
    ui.messages.textContent = "";
    showEmotion(null);
    setTyping(false);
    if (socket && socket.connected) {
      setComposerEnabled(false);
      socket.emit("session_request", { session_id: null });
    }
    ui.input.focus();
  });

  /* Sends `payload` to the bot and shows `shown` (a quick reply shows its title). */
  function sendText(payload, shown) {
    addMessage("user", { text: shown });
    socket.emit(config.user_message_evt, { message: payload, session_id: state.sessionId });
    setTyping(true);
  }

  function toEntry(message) {
    var attachment = message.attachment;
    if (attachment && attachment.type === "image" && attachment.payload) {
      return { text: message.text || "", image: attachment.payload.src };
    }
    return { text: message.text || "", image: message.image || null };
  }

  function addMessage(from, entry, quickReplies) {
    if (!entry.text && !entry.image) { return; }
    state.history.push({ from: from, text: entry.text, image: entry.image || null });
    state.history = state.history.slice(-HISTORY_LIMIT);
    saveState();
    renderMessage(from, entry, quickReplies);
  }

  function renderMessage(from, entry, quickReplies) {
    var item = document.createElement("li");
    item.className = "bubble " + from;
    var speaker = document.createElement("span");
    speaker.className = "visually-hidden";
    speaker.textContent = from === "user" ? "You: " : "Kai: ";
    item.appendChild(speaker);
    if (entry.text) {
      var text = document.createElement("span");
      text.className = "text";
      text.textContent = entry.text; // text, never HTML
      item.appendChild(text);
    }
    if (entry.image) {
      var image = document.createElement("img");
      image.src = entry.image;
      image.alt = "Image sent by Kai";
      item.appendChild(image);
    }
    if (quickReplies && quickReplies.length) {
      item.appendChild(renderQuickReplies(quickReplies));
    }
    ui.messages.appendChild(item);
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function renderQuickReplies(replies) {
    var group = document.createElement("div");
    group.className = "quick-replies";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Suggested replies");
    replies.forEach(function (reply) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = reply.title;
      button.addEventListener("click", function () {
        if (socket && socket.connected) { sendText(reply.payload, reply.title); }
      });
      group.appendChild(button);
    });
    return group;
  }

  function showEmotion(emotion) {
    if (!emotion || !emotion.emotion) {
      ui.emotion.hidden = true;
      ui.emotion.textContent = "";
      delete ui.emotion.dataset.emotion;
      return;
    }
    var name = emotion.emotion;
    var confidence = typeof emotion.confidence === "number"
      ? " (" + Math.round(emotion.confidence * 100) + "% sure)" : "";
    ui.emotion.hidden = false;
    ui.emotion.dataset.emotion = name;
    ui.emotion.textContent = (EMOTION_ICONS[name] || "💬") + " " + name;
    ui.emotion.title = "The emotion Kai read in your last message" + confidence;
    ui.emotion.setAttribute("aria-label", "Emotion Kai read in your last message: " + name + confidence);
  }

  function setTyping(on) {
    ui.typing.hidden = !on;
    clearTimeout(typingTimer);
    // Never leave the indicator on forever if a reply is lost on the way.
    if (on) { typingTimer = setTimeout(function () { setTyping(false); }, TYPING_TIMEOUT_MS); }
  }

  function setStatus(text, kind) {
    ui.status.textContent = text;
    ui.status.dataset.state = kind;
    ui.status.classList.toggle("offline", kind === "offline");
  }

  function setComposerEnabled(enabled) {
    // Sending only after session_confirm: a message sent earlier would be answered
    // to a room this socket has not joined yet, and the reply would be lost.
    ui.input.disabled = !enabled;
    ui.send.disabled = !enabled;
    if (enabled && document.activeElement === document.body) { ui.input.focus(); }
  }

  function loadState() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
      if (saved && Array.isArray(saved.history)) { return saved; }
    } catch (error) { /* unreadable: start afresh */ }
    return { sessionId: null, history: [], emotion: null };
  }

  function saveState() {
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (error) { /* private mode or full: the chat still works, without memory */ }
  }
})();
