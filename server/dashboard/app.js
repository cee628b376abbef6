import { createApi, session } from "./api.js";
import { byId } from "./dom.js";
import { followEvents } from "./sse.js";
import { setUpTabs } from "./tabs.js";
import { positionsSection, reservesSection } from "./positions.js";
import { paymentsSection } from "./payments.js";
import { windowsSection } from "./windows.js";
import { reconSection } from "./recon.js";
import { chartsSection } from "./charts.js";

const REFRESH_MS = 5_000;
const EVENT_DEBOUNCE_MS = 750;

const api = createApi({ onUnauthorized: (error) => signOut(`Signed out: ${error.message}`) });
let running = null; // { stop() } while signed in

/** One polite live region; bursts of updates are said once, as a count. */
function createAnnouncer(node) {
  let pending = [];
  let timer;
  return (message) => {
    pending.push(message);
    clearTimeout(timer);
    timer = setTimeout(() => {
      node.textContent = pending.length === 1 ? pending[0] : `${pending.length} updates; latest: ${pending.at(-1)}`;
      pending = [];
    }, 500);
  };
}

function debounce(fn, ms) {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

function start(key) {
  const announce = createAnnouncer(byId("announcer"));
  const ctx = { api, announce };
  const payments = paymentsSection(ctx);
  const sections = [positionsSection(ctx), reservesSection(ctx), windowsSection(ctx), reconSection(ctx), chartsSection(ctx)];
  const controller = new AbortController();
  let live = false;
  let busy = false;

  // A refresh never overlaps the previous one; without the live stream, payments are polled too.
  async function refreshAll() {
    if (busy || controller.signal.aborted) return;
    busy = true;
    try {
      await Promise.all([...sections.map((s) => s.refresh()), live ? null : payments.load()]);
    } finally {
      busy = false;
    }
  }
  const refreshSoon = debounce(refreshAll, EVENT_DEBOUNCE_MS);
  const timer = setInterval(() => document.hidden || refreshAll(), REFRESH_MS);

  const liveState = byId("live-state");
  followEvents({
    url: "/v1/events",
    key,
    signal: controller.signal,
    onState(state, detail) {
      live = state === "live";
      liveState.dataset.state = state;
      liveState.textContent = { connecting: "Live updates: connecting…", live: "Live updates: on", retrying: `Live updates: reconnecting (${detail})` }[state];
    },
    onEvent(event) {
      if (event.type !== "payment") return;
      try {
        payments.onEvent(JSON.parse(event.data));
      } catch (error) {
        console.warn("unreadable event", error);
      }
      refreshSoon();
    },
    onUnauthorized: () => signOut("Signed out: the API key was refused."),
    onResync: () => payments.load(),
  });

  payments.load();
  refreshAll();
  return {
    stop() {
      controller.abort();
      clearInterval(timer);
    },
  };
}

function showSignedIn(signedIn) {
  byId("signin-view").hidden = signedIn;
  byId("app-view").hidden = !signedIn;
  byId("session-bar").hidden = !signedIn;
}

/** Sign-in checks the key on a treasury-only route, so a bank's key is refused with the API's reason. */
async function signIn(key) {
  await api("/v1/reconciliation/runs?limit=1", { key });
  session.save(key);
  showSignedIn(true);
  running = start(key);
}

function signOut(message) {
  running?.stop();
  running = null;
  session.clear();
  // A fresh page leaves no payment data behind in the DOM or in memory.
  if (message) sessionStorage.setItem("corridor.signOutMessage", message);
  location.reload();
}

function showSignInError(message) {
  const error = byId("signin-error");
  error.textContent = message;
  error.hidden = !message;
}

function boot() {
  setUpTabs(byId("tabs"));
  const form = byId("signin-form");
  const input = byId("api-key");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      showSignInError("Enter the treasury API key.");
      input.focus();
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await signIn(key);
      input.value = "";
      byId("main").focus();
    } catch (error) {
      showSignInError(error.message);
      input.select();
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  byId("sign-out").addEventListener("click", () => signOut());

  const farewell = sessionStorage.getItem("corridor.signOutMessage");
  sessionStorage.removeItem("corridor.signOutMessage");
  if (farewell) showSignInError(farewell);

  const saved = session.key();
  if (!saved) {
    input.focus();
    return;
  }
  signIn(saved).catch((error) => {
    session.clear();
    showSignedIn(false);
    showSignInError(error.message);
  });
}

boot();
