import { describe, expect, it } from "vitest";
import { EMPTY_RUN, fieldOfProblem, runRequestOf, splitCommand } from "./runForm";

describe("the run form", () => {
  it("makes the RunRequest of docker run's forms", () => {
    const result = runRequestOf({
      ...EMPTY_RUN,
      image: " busybox:latest ",
      name: "web",
      command: `sh -c 'echo "hi there"; sleep 300'`,
      ports: "8080:80, 127.0.0.1:53:53/udp\n9000",
      volumes: "data:/data /etc/hostname:/host-name:ro",
      network: "shop",
      restart: "on-failure",
      retries: "3",
      labels: "team=shop\n\n tier = web \nnote=a=b",
      env: [
        { name: "TOKEN", value: "s3cr3t" },
        { name: "EMPTY", value: "" },
        { name: "", value: "" },
      ],
    });
    expect(result).toEqual({
      ok: true,
      request: {
        image: "busybox:latest",
        name: "web",
        command: ["sh", "-c", 'echo "hi there"; sleep 300'],
        ports: ["8080:80", "127.0.0.1:53:53/udp", "9000"],
        volumes: ["data:/data", "/etc/hostname:/host-name:ro"],
        network: "shop",
        restart: "on-failure:3",
        labels: { team: "shop", tier: "web", note: "a=b" },
        env: ["TOKEN=s3cr3t", "EMPTY="],
      },
    });
  });

  it("leaves out what is empty, and says created-only", () => {
    expect(runRequestOf({ ...EMPTY_RUN, image: "x", restart: "always", start: false })).toEqual({
      ok: true,
      request: { image: "x", restart: "always", start: false },
    });
  });

  it("names the field that cannot make a request, never quoting a value", () => {
    expect(runRequestOf(EMPTY_RUN)).toMatchObject({ ok: false, field: "image" });
    expect(runRequestOf({ ...EMPTY_RUN, image: "x", command: "echo 'oops" })).toEqual({
      ok: false,
      field: "command",
      message: "The command: a single quote is not closed.",
    });
    expect(runRequestOf({ ...EMPTY_RUN, image: "x", labels: "team" })).toMatchObject({ ok: false, field: "labels" });
    expect(runRequestOf({ ...EMPTY_RUN, image: "x", restart: "on-failure", retries: "3x" })).toMatchObject({
      ok: false,
      field: "retries",
    });
    const noName = runRequestOf({ ...EMPTY_RUN, image: "x", env: [{ name: "", value: "s3cr3t" }] });
    expect(noName).toMatchObject({ ok: false, field: "env" });
    const badName = runRequestOf({ ...EMPTY_RUN, image: "x", env: [{ name: "A B", value: "s3cr3t" }] });
    expect(badName).toMatchObject({ ok: false, field: "env" });
    expect(JSON.stringify([noName, badName])).not.toContain("s3cr3t");
  });

  it("splits a command as a shell does", () => {
    expect(splitCommand("  sleep   300 ")).toEqual(["sleep", "300"]);
    expect(splitCommand(`echo "a \\"b\\"" 'c d' e\\ f ""`)).toEqual(["echo", 'a "b"', "c d", "e f", ""]);
  });

  it("finds the field of the server's and Docker's messages", () => {
    expect(
      fieldOfProblem("body.ports: Value error, port spec '99999:80': the host port must be a number from 1 to 65535"),
    ).toEqual({ field: "ports", message: "ports: port spec '99999:80': the host port must be a number from 1 to 65535" });
    expect(fieldOfProblem("body.env.1: Value error, an environment item must be NAME=value")).toEqual({
      field: "env",
      message: "env: an environment item must be NAME=value",
    });
    expect(fieldOfProblem("No such image: nope:1").field).toBe("image");
    expect(
      fieldOfProblem('Conflict. The container name "/web" is already in use by container "9e1d". You have to remove (or rename) that container to be able to reuse that name.').field,
    ).toBe("name");
    expect(
      fieldOfProblem("driver failed programming external connectivity on endpoint web: Bind for 127.0.0.1:8080 failed: port is already allocated").field,
    ).toBe("ports");
    expect(fieldOfProblem("something else")).toEqual({ field: null, message: "something else" });
  });
});
