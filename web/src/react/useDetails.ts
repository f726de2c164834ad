import { DetailsLoader, type DetailsState } from "../store/details";
import { useLoader } from "./useLoader";

/**
 * A container's details (GET /api/v1/containers/{id}), read again when the container changes
 * in the live store, never on a timer. The loader runs while the component is mounted.
 */
export function useDetails(id: string): { state: DetailsState; loader: DetailsLoader } {
  return useLoader<DetailsState, DetailsLoader>((store) => new DetailsLoader({ id, request: store.request, live: store }), [id]);
}
