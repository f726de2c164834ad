import { useEffect, useRef, type RefObject } from "react";

/**
 * A side panel's manners (History, Stats): focused when it opens, so that the keyboard is in
 * it; closed by Escape, unless a modal (the confirmation of an action) has the key to itself.
 * Put the returned ref on the panel's element (with `tabIndex={-1}`).
 */
export function useSidePanel(onClose: () => void): RefObject<HTMLElement | null> {
  const panelRef = useRef<HTMLElement>(null);
  useEffect(() => panelRef.current?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape" || e.defaultPrevented || document.querySelector('[aria-modal="true"]')) return;
      onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return panelRef;
}
