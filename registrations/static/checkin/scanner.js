/* Convene staff scanner: camera → QR → POST /api/v1/events/{slug}/checkins/ → big result.
 *
 * Decoding: the BarcodeDetector API where the browser has it, else jsQR (static file from npm).
 * Every scan carries a nonce (crypto.randomUUID): when the network is down the scan is kept in
 * localStorage and replayed later; the server answers a replayed nonce with its first answer,
 * so replays are safe. No build step, no framework.
 */
(function () {
  "use strict";

  const root = document.getElementById("scanner");
  if (!root || !document.getElementById("event")) return;

  const T = JSON.parse(document.getElementById("i18n-data").textContent);
  const API = root.dataset.api;
  const CSRF = root.dataset.csrf;
  const params = new URLSearchParams(location.search);
  // The same code is ignored for this long after a scan (a badge stays in view for a while).
  const RESCAN_MS = Number(params.get("rescan_ms") || 3000);
  const FRAME_MS = 120;
  const QUEUE_KEY = "convene-checkin-queue";

  const $ = (id) => document.getElementById(id);
  const eventSelect = $("event");
  const gateInput = $("gate");
  const video = $("video");
  const canvas = $("frame");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });

  // --- settings kept on the device -------------------------------------------------------
  eventSelect.value = localStorage.getItem("convene-checkin-event") || eventSelect.value;
  if (!eventSelect.value && eventSelect.options.length) eventSelect.selectedIndex = 0;
  gateInput.value = localStorage.getItem("convene-checkin-gate") || "";
  eventSelect.addEventListener("change", () => {
    localStorage.setItem("convene-checkin-event", eventSelect.value);
    refreshStats();
  });
  gateInput.addEventListener("change", () => localStorage.setItem("convene-checkin-gate", gateInput.value));

  const EVENTS = JSON.parse(document.getElementById("events-data").textContent);
  function showDirection() {
    const event = EVENTS.find((e) => e.slug === eventSelect.value);
    const reentry = !!event && event.checkin_policy === "reentry";
    $("direction-box").hidden = !reentry;
    if (!reentry) document.querySelector('input[name="direction"][value="in"]').checked = true;
  }
  eventSelect.addEventListener("change", showDirection);
  showDirection();

  const slug = () => eventSelect.value;
  const gate = () => gateInput.value.trim();
  const direction = () => (document.querySelector('input[name="direction"]:checked') || {}).value || "in";
  const newNonce = () =>
    (window.crypto && crypto.randomUUID)
      ? crypto.randomUUID()
      : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);

  // --- result panel ----------------------------------------------------------------------
  const TONE = {
    ok: "ok",
    already_checked_in: "warn",
    not_checked_in: "warn",
    invalid: "bad",
    wrong_event: "bad",
    revoked: "bad",
    not_confirmed: "bad",
    online_only: "bad",
  };

  function time(iso) {
    try {
      return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      return iso;
    }
  }

  function show(tone, title, person, detail) {
    const box = $("result");
    box.dataset.tone = tone;
    $("result-title").textContent = title;
    $("result-name").textContent = person ? person.full_name : "";
    $("result-org").textContent = person ? person.organisation || "" : "";
    $("result-category").textContent = person ? T.category[person.category] || person.category : "";
    $("result-category").dataset.category = person ? person.category : "";
    $("result-detail").textContent = detail || "";
    if (navigator.vibrate) navigator.vibrate(tone === "ok" ? 80 : [60, 60, 60]);
  }

  function showAnswer(body) {
    const result = body.result;
    if (!result) {
      show("bad", T.error, null, body.detail || "");
      return;
    }
    let title = T[result] || result;
    let detail = "";
    if (result === "ok" && body.direction === "out") title = T.exit_ok;
    if (result === "ok") detail = (body.gate ? body.gate + " · " : "") + time(body.checked_in_at);
    if (result === "already_checked_in") {
      detail = T.since + " " + time(body.first_checked_in_at) + (body.gate ? " " + T.at + " " + body.gate : "");
    } else if (result !== "ok") {
      detail = body.detail || "";
    }
    show(TONE[result] || "bad", title, body.registration, detail);
  }

  // --- network: post, queue offline, replay ---------------------------------------------
  function readQueue() {
    try {
      return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
    } catch (e) {
      return [];
    }
  }
  function writeQueue(items) {
    localStorage.setItem(QUEUE_KEY, JSON.stringify(items));
    const status = $("queue-status");
    status.hidden = items.length === 0;
    status.textContent = items.length + " " + T.queue;
  }

  function setOnline(online) {
    const net = $("net-status");
    net.dataset.state = online ? "online" : "offline";
    net.textContent = online ? T.online : T.offline;
  }

  async function post(path, body) {
    const response = await fetch(API + encodeURIComponent(body.slug) + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": CSRF },
      body: JSON.stringify(body.payload),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = { detail: response.statusText };
    }
    return { status: response.status, data };
  }

  // A network failure or a server that says "try later" keeps the scan for a replay.
  const retryable = (status) => status === 502 || status === 503 || status === 504;

  async function submit(item) {
    try {
      const { status, data } = await post(item.path, item);
      setOnline(true);
      if (retryable(status)) throw new Error("server busy");
      return data;
    } catch (error) {
      setOnline(navigator.onLine && !(error instanceof TypeError));
      const queue = readQueue();
      if (!queue.some((q) => q.payload.nonce === item.payload.nonce)) queue.push(item);
      writeQueue(queue);
      return null;
    }
  }

  let replaying = false;
  async function replayQueue() {
    if (replaying) return;
    replaying = true;
    try {
      let queue = readQueue();
      for (const item of queue.slice()) {
        try {
          const { status } = await post(item.path, item);
          if (retryable(status)) break;
          setOnline(true);
          queue = readQueue().filter((q) => q.payload.nonce !== item.payload.nonce);
          writeQueue(queue);
        } catch (e) {
          setOnline(false);
          break;
        }
      }
    } finally {
      replaying = false;
    }
  }
  window.addEventListener("online", replayQueue);
  window.addEventListener("offline", () => setOnline(false));
  setInterval(replayQueue, 10000);
  writeQueue(readQueue());

  function scanPayload(extra) {
    return Object.assign(
      { gate: gate(), nonce: newNonce(), scanned_at: new Date().toISOString(), direction: direction() },
      extra
    );
  }

  // --- offline check with the bundle (public keys + revoked ids) --------------------------
  const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  const bundleKey = (s) => "convene-checkin-bundle:" + s;

  async function refreshBundle() {
    try {
      const response = await fetch(API + encodeURIComponent(slug()) + "/checkins/bundle/", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) localStorage.setItem(bundleKey(slug()), await response.text());
    } catch (e) {
      /* offline: keep the last bundle */
    }
  }

  function b45decode(text) {
    if (text.length % 3 === 1) return null;
    const out = [];
    for (let i = 0; i < text.length; i += 3) {
      const chunk = text.slice(i, i + 3).split("").map((ch) => B45.indexOf(ch));
      if (chunk.some((v) => v < 0)) return null;
      if (chunk.length === 3) {
        const n = chunk[0] + chunk[1] * 45 + chunk[2] * 2025;
        if (n > 0xffff) return null;
        out.push(n >> 8, n & 0xff);
      } else {
        const n = chunk[0] + chunk[1] * 45;
        if (n > 0xff) return null;
        out.push(n);
      }
    }
    return new Uint8Array(out);
  }

  function parsePayload(signed) {
    if (signed[0] !== 1) return null;
    const fields = [];
    let pos = 1;
    for (let f = 0; f < 4; f++) {
      let value = 0;
      let scale = 1;
      for (;;) {
        if (pos >= signed.length || scale > 2 ** 49) return null;
        const byte = signed[pos++];
        value += (byte & 0x7f) * scale;
        scale *= 128;
        if (!(byte & 0x80)) break;
      }
      fields.push(value);
    }
    if (pos !== signed.length) return null;
    return { kid: fields[0], event_id: fields[1], registration_id: fields[2], counter: fields[3] };
  }

  // The server's verdict, as far as the device can tell alone: "valid", or a refusal result.
  async function offlineVerdict(code) {
    if (!localStorage.getItem(bundleKey(slug()))) await refreshBundle();
    let bundle;
    try {
      bundle = JSON.parse(localStorage.getItem(bundleKey(slug())) || "null");
    } catch (e) {
      bundle = null;
    }
    if (!bundle || !window.crypto || !crypto.subtle) return null;
    const raw = code.length <= 120 ? b45decode(code) : null;
    if (!raw || raw.length < 69) return "invalid";
    const signed = raw.slice(0, raw.length - 64);
    const payload = parsePayload(signed);
    if (!payload) return "invalid";
    const key = bundle.keys.find((k) => k.kid === payload.kid);
    if (!key) return "invalid";
    try {
      const keyBytes = Uint8Array.from(atob(key.public_key), (c) => c.charCodeAt(0));
      const publicKey = await crypto.subtle.importKey("raw", keyBytes, { name: "Ed25519" }, false, ["verify"]);
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, raw.slice(raw.length - 64), signed);
      if (!ok) return "invalid";
    } catch (e) {
      return null; // no Ed25519 in this browser: no offline verdict
    }
    if (payload.event_id !== bundle.event.id) return "wrong_event";
    if (bundle.revoked_registration_ids.includes(payload.registration_id)) return "revoked";
    const reissued = bundle.badge_counters.find((c) => c.registration_id === payload.registration_id);
    if (reissued && payload.counter < reissued.counter) return "revoked";
    return "valid";
  }

  async function checkIn(path, extra) {
    const item = { slug: slug(), path, payload: scanPayload(extra) };
    const data = await submit(item);
    if (data === null) {
      // Kept for upload either way (the server records every scan); say what the badge is.
      const verdict = extra.code ? await offlineVerdict(extra.code) : null;
      root.dataset.offlineVerdict = verdict || "unknown";
      if (verdict === null || verdict === "valid") {
        show("queued", T.queued, null, verdict === "valid" ? T.offline_valid : "");
      } else {
        show("bad", T[verdict] || verdict, null, T.offline_check);
      }
    } else showAnswer(data);
    // The server caches stats for 2 s: ask once that has passed (once per burst of scans).
    if (!statsSoon) {
      statsSoon = setTimeout(() => {
        statsSoon = null;
        refreshStats();
      }, 2500);
    }
  }

  // --- camera + decoding -----------------------------------------------------------------
  let detector = null;
  let stream = null;
  let busy = false;
  let lastCode = "";
  let lastAt = 0;

  async function makeDetector() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    } catch (e) {
      return null;
    }
  }

  async function decodeFrame() {
    if (!video.videoWidth) return null;
    if (detector) {
      const codes = await detector.detect(video);
      return codes.length ? codes[0].rawValue : null;
    }
    if (typeof window.jsQR !== "function") return null;
    // Downscale big frames: jsQR's cost grows with pixels, a badge QR needs far fewer.
    const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  }

  async function tick() {
    if (stream && !busy) {
      busy = true;
      try {
        const code = await decodeFrame();
        const now = Date.now();
        if (code && (code !== lastCode || now - lastAt > RESCAN_MS)) {
          lastCode = code;
          lastAt = now;
          await checkIn("/checkins/", { code });
          lastAt = Date.now();
        }
      } catch (e) {
        /* a frame that cannot be decoded is not an error */
      } finally {
        busy = false;
      }
    }
    setTimeout(tick, FRAME_MS);
  }

  async function startCamera() {
    const status = $("camera-status");
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = T.no_camera;
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
      video.srcObject = stream;
      await video.play();
      detector = await makeDetector();
      status.textContent = T.scanning + " (" + (detector ? "BarcodeDetector" : "jsQR") + ")";
      root.dataset.decoder = detector ? "BarcodeDetector" : "jsQR";
    } catch (e) {
      status.textContent = T.no_camera + " (" + e.name + ")";
    }
  }
  $("camera-toggle").addEventListener("click", startCamera);

  // --- manual search -----------------------------------------------------------------------
  let searchTimer = null;
  $("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 250);
  });

  async function search() {
    const q = $("search").value.trim();
    const list = $("matches");
    list.replaceChildren();
    if (q.length < 2) return;
    try {
      const response = await fetch(
        API + encodeURIComponent(slug()) + "/checkins/search/?q=" + encodeURIComponent(q),
        { credentials: "same-origin", headers: { Accept: "application/json" } }
      );
      const people = await response.json();
      if (!Array.isArray(people) || !people.length) {
        const li = document.createElement("li");
        li.textContent = T.no_match;
        list.append(li);
        return;
      }
      for (const person of people) {
        const li = document.createElement("li");
        const label = document.createElement("span");
        label.textContent =
          person.full_name + (person.organisation ? " · " + person.organisation : "") +
          (person.checked_in ? " · " + T.inside : "");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = T.checkin;
        button.addEventListener("click", () => checkIn("/checkins/manual/", { registration_id: person.id }));
        li.append(label, button);
        list.append(li);
      }
    } catch (e) {
      setOnline(false);
    }
  }

  // --- stats line ----------------------------------------------------------------------------
  let statsTimer = null;
  let statsSoon = null;
  async function refreshStats() {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(refreshStats, 15000);
    try {
      const response = await fetch(API + encodeURIComponent(slug()) + "/checkins/stats/", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const stats = await response.json();
      const inPerson = stats.by_attendance.find((row) => row.attendance === "in_person") || stats;
      $("stats").textContent = inPerson.checked_in + " " + T.checked_in_of + " " + inPerson.expected;
    } catch (e) {
      /* offline: keep the last figures */
    }
  }

  startCamera().then(tick);
  refreshStats();
  refreshBundle();
  eventSelect.addEventListener("change", refreshBundle);
  setInterval(refreshBundle, 5 * 60 * 1000);
  replayQueue();
})();
