/**
 * What the user sees of the connection: live / syncing / reconnecting (with a countdown) /
 * signed out / engine disconnected, and, while not live, that the data is possibly stale.
 */
import { isLive, type LiveState } from "../store/live";
import { useEngineState, useLiveStore, useNow } from "../react/hooks";
import { clock } from "../format";

export type Health = "live" | "syncing" | "connecting" | "reconnecting" | "unauthorized" | "engine-down" | "stopped";

export function healthOf(s: LiveState): Health {
  const status = s.connection.status;
  if (status === "reconnecting") return "reconnecting";
  if (status === "unauthorized") return "unauthorized";
  if (status === "connecting" || status === "idle") return "connecting";
  if (status === "stopped") return "stopped";
  if (s.syncing || s.source !== "live") return "syncing";
  if (s.data?.engine_info?.status !== "connected") return "engine-down";
  return "live";
}

function Countdown({ at }: { at: number }) {
  const now = useNow(250);
  const seconds = Math.max(0, Math.ceil((at - now) / 1000));
  return <span className="countdown">{seconds} s</span>;
}

export function ConnectionBadge() {
  const health = useEngineState((s) => healthOf(s));
  const retryAt = useEngineState((s) => s.connection.retryAt);
  const attempt = useEngineState((s) => s.connection.attempt);
  const engineStatus = useEngineState((s) => s.data?.engine_info?.status ?? null);
  let text: React.ReactNode;
  switch (health) {
    case "live":
      text = "Live";
      break;
    case "syncing":
      text = "Syncing…";
      break;
    case "connecting":
      text = "Connecting…";
      break;
    case "reconnecting":
      text = (
        <>
          Reconnecting{retryAt ? <> in <Countdown at={retryAt} /></> : "…"}
          {attempt > 1 ? ` (attempt ${attempt})` : ""}
        </>
      );
      break;
    case "unauthorized":
      text = "Signed out";
      break;
    case "engine-down":
      text = engineStatus === "resyncing" ? "Engine resyncing…" : "Engine disconnected";
      break;
    case "stopped":
      text = "Stopped";
      break;
  }
  return (
    <div className={`badge badge-${health}`} role="status" aria-live="polite" data-testid="connection">
      <span className="dot" aria-hidden="true" />
      {text}
    </div>
  );
}

/** The banner over the data while it is not live. */
export function StaleBanner() {
  const live = useEngineState(isLive);
  const health = useEngineState(healthOf);
  const source = useEngineState((s) => s.source);
  const cachedAt = useEngineState((s) => s.cachedAt);
  const lastError = useEngineState((s) => s.data?.engine_info?.last_error ?? null);
  const lastClose = useEngineState((s) => s.connection.lastClose);
  if (live || source === "none") {
    if (health === "unauthorized") return <Unauthorized />;
    return null;
  }
  let reason: string;
  if (health === "unauthorized") return <Unauthorized />;
  if (source === "cache") {
    reason = `Showing the last known state${cachedAt ? ` (saved ${clock(cachedAt)})` : ""} until the live one arrives.`;
  } else if (health === "engine-down") {
    reason = `dockstate has lost the Docker engine${lastError ? `: ${lastError}` : ""}.`;
  } else if (health === "reconnecting" || health === "connecting") {
    reason = `The connection to the dockstate server is down${lastClose?.reason ? ` (${lastClose.reason})` : ""}.`;
  } else {
    reason = "Catching up with the server.";
  }
  return (
    <div className="stale-banner" role="status" data-testid="stale">
      <strong>Possibly stale.</strong> {reason}
    </div>
  );
}

function Unauthorized() {
  return (
    <div className="stale-banner error" role="alert">
      <strong>Not signed in.</strong> Open the URL that <code>dockstate serve</code> printed
      (<code>http://HOST:PORT/?token=…</code>).
    </div>
  );
}

export function Notices() {
  const store = useLiveStore();
  const notices = useEngineState((s) => s.notices);
  if (notices.length === 0) return null;
  return (
    <div className="notices" aria-live="assertive">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.level}`} role={n.level === "error" ? "alert" : "status"}>
          <div>
            <strong>{n.title}</strong>
            <div className="notice-message">{n.message}</div>
          </div>
          <button type="button" className="link" aria-label="Dismiss" onClick={() => store.dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
