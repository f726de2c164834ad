/**
 * A modal dialog over the page: a backdrop that closes it when clicked, Escape that closes it,
 * and the focus moved into it when it opens (to ``initialFocus``, else the dialog itself).
 */
import { type ReactNode, type RefObject, useEffect, useRef } from "react";

export function Modal({
  labelledBy,
  describedBy,
  role = "dialog",
  className,
  onClose,
  initialFocus,
  children,
  testId,
}: {
  labelledBy: string;
  describedBy?: string;
  role?: "dialog" | "alertdialog";
  className?: string;
  /** Escape, or a click on the backdrop. */
  onClose: () => void;
  initialFocus?: RefObject<HTMLElement | null>;
  children: ReactNode;
  testId?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  // The latest onClose, without re-running the effects when a parent passes a new one.
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    (initialFocus?.current ?? ref.current)?.focus();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.preventDefault();
      close.current();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div className="modal-backdrop" onClick={() => close.current()}>
      <div
        ref={ref}
        className={className ? `modal ${className}` : "modal"}
        role={role}
        aria-modal="true"
        aria-labelledby={labelledBy}
        aria-describedby={describedBy}
        tabIndex={-1}
        data-testid={testId}
        onClick={(e) => e.stopPropagation()}
      >
        {children}
      </div>
    </div>
  );
}
