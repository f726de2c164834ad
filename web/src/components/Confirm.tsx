/**
 * Confirmation for destructive actions: a modal that resolves a promise. Nothing is removed,
 * killed or pruned without it.
 */
import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from "react";
import { Modal } from "./Modal";

export interface ConfirmRequest {
  title: string;
  message: string;
  confirmLabel: string;
  /** An optional checkbox (e.g. "force"), its answer returned with the confirmation. */
  option?: { label: string; initial?: boolean };
}

export type ConfirmAnswer = { confirmed: false } | { confirmed: true; option: boolean };

type Ask = (request: ConfirmRequest) => Promise<ConfirmAnswer>;

const ConfirmContext = createContext<Ask | null>(null);

export function useConfirm(): Ask {
  const ask = useContext(ConfirmContext);
  if (!ask) throw new Error("useConfirm needs a <ConfirmProvider>");
  return ask;
}

interface Open {
  request: ConfirmRequest;
  resolve: (answer: ConfirmAnswer) => void;
}

export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [open, setOpen] = useState<Open | null>(null);
  const ask = useCallback<Ask>(
    (request) =>
      new Promise((resolve) => {
        setOpen({ request, resolve });
      }),
    [],
  );
  return (
    <ConfirmContext.Provider value={ask}>
      {children}
      {open && (
        <ConfirmDialog
          request={open.request}
          onAnswer={(answer) => {
            open.resolve(answer);
            setOpen(null);
          }}
        />
      )}
    </ConfirmContext.Provider>
  );
}

function ConfirmDialog({
  request,
  onAnswer,
}: {
  request: ConfirmRequest;
  onAnswer: (answer: ConfirmAnswer) => void;
}) {
  const [option, setOption] = useState(request.option?.initial ?? false);
  const cancelRef = useRef<HTMLButtonElement>(null);
  return (
    <Modal
      role="alertdialog"
      labelledBy="confirm-title"
      describedBy="confirm-message"
      initialFocus={cancelRef}
      onClose={() => onAnswer({ confirmed: false })}
    >
      <h2 id="confirm-title">{request.title}</h2>
      <p id="confirm-message">{request.message}</p>
      {request.option && (
        <label className="modal-option">
          <input type="checkbox" checked={option} onChange={(e) => setOption(e.target.checked)} />
          {request.option.label}
        </label>
      )}
      <div className="modal-buttons">
        <button ref={cancelRef} type="button" onClick={() => onAnswer({ confirmed: false })}>
          Cancel
        </button>
        <button type="button" className="danger" onClick={() => onAnswer({ confirmed: true, option })}>
          {request.confirmLabel}
        </button>
      </div>
    </Modal>
  );
}
