import { useEffect, useRef, useState } from "react";

/**
 * A key that changes each time ``rev`` changes after the first render: render an element with
 * it as its ``key`` and a CSS animation, and the row flashes briefly on every live change.
 */
export function useFlashKey(rev: number | undefined): number {
  const first = useRef(rev);
  const [key, setKey] = useState(0);
  useEffect(() => {
    if (rev !== undefined && rev !== first.current) {
      first.current = rev;
      setKey((k) => k + 1);
    }
  }, [rev]);
  return key;
}
