/** The types the store works with, all from the generated schema types (never written twice). */
import type {
  ChangeMessage,
  Container,
  ContainerStats,
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
import type { Kind, MAP_OF_KIND, MapName, ObjectKind } from "../generated/types";

export type {
  Accepted,
  ChangesMessage,
  ClientMessage,
  ContainerDetails,
  HealthResult,
  LayerProgress,
  Operation,
  OperationMessage,
  ProjectProgress,
  PullProgress,
  RunRequest,
  DockerEventRecord,
  EngineEntry,
  EngineList,
  Hello,
  LogLineModel,
  LogsEnd,
  LogsMessage,
  LogsSkipped,
  Resync,
  Snapshot,
  StatsMessage,
  Subscribe,
  SubscribeLogs,
  SubscribeStats,
  Timeline,
  Welcome,
} from "../generated/types";
export type {
  ChangeMessage,
  Container,
  ContainerStats,
  EngineInfo,
  Image,
  Network,
  Port,
  Problem,
  ServerMessage,
  SystemStats,
  Volume,
};
export { KINDS, MAP_OF_KIND, OBJECT_KINDS, PROTOCOL } from "../generated/types";
export type { Kind, MapName, ObjectKind } from "../generated/types";

/** protocol.md §1: the state as a snapshot carries it. */
export type EngineState = EngineStateModel;
export type ContainerState = Container["state"];

// The kinds are generated from the schema (gen-types.mjs); these fail to compile if the list
// of kinds and the types of the messages and the state ever disagree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const kindsAreChangeKinds: Same<Kind, ChangeMessage["kind"]> = true;
const mapsAreStateMaps: Same<MapName, keyof Pick<EngineState, MapName>> = true;
void kindsAreChangeKinds;
void mapsAreStateMaps;

/** The entity of a kind, read from its map in EngineState (Container for "container"). */
export type EntityOf<K extends ObjectKind> = EngineState[MapOf<K>][string];
type MapOf<K extends ObjectKind> = (typeof MAP_OF_KIND)[K];
