/** The types the store works with, all from the generated schema types (never written twice). */
import type {
  ChangeMessage,
  Container,
  EngineInfo,
  EngineStateModel,
  Image,
  Network,
  Port,
  Problem,
  ServerMessage,
  SystemStats,
  Volume,
} from "../generated/types";

export type {
  Accepted,
  ChangesMessage,
  ClientMessage,
  DockerEventRecord,
  Hello,
  Snapshot,
  Subscribe,
  Timeline,
  Welcome,
} from "../generated/types";
export type {
  ChangeMessage,
  Container,
  EngineInfo,
  Image,
  Network,
  Port,
  Problem,
  ServerMessage,
  SystemStats,
  Volume,
};
export { PROTOCOL } from "../generated/types";

/** protocol.md §1: the state as a snapshot carries it. */
export type EngineState = EngineStateModel;
export type Kind = ChangeMessage["kind"];
/** The kinds with a map of objects in the state. */
export type ObjectKind = Exclude<Kind, "engine">;
export type ContainerState = Container["state"];

export const MAP_OF_KIND = {
  container: "containers",
  image: "images",
  volume: "volumes",
  network: "networks",
} as const satisfies Record<ObjectKind, keyof EngineState>;

export type EntityOf<K extends ObjectKind> = {
  container: Container;
  image: Image;
  volume: Volume;
  network: Network;
}[K];
