/**
 * Graph construction: declare inputs, constant weights and ops once; shapes are inferred and
 * checked as each op is added, so a mistake fails at build time with an error naming the op.
 * @module
 */
import { GraphError, ShapeError } from "../errors.ts";
import type { OpDef } from "../ops/op.ts";
import { dtypeOf, fmtShape, type HostArray, numel, type TensorSpec } from "./tensor.ts";

/** A tensor in a graph under construction. */
export interface Value {
  /** Index in the graph's value table. */
  readonly id: number;
  /** Shape and dtype. */
  readonly spec: TensorSpec;
  /** Where it comes from, for messages. */
  readonly name: string;
}

/** One op instance in a graph. */
export interface Node {
  /** The op type. */
  // deno-lint-ignore no-explicit-any
  readonly op: OpDef<any>;
  /** Attributes passed to the op. */
  readonly attrs: unknown;
  /** Instance name (unique within the graph). */
  readonly name: string;
  /** Input value ids. */
  readonly inputs: readonly number[];
  /** Output value ids. */
  readonly outputs: readonly number[];
}

/** How a value is produced. */
export type ValueKind =
  | { readonly kind: "input"; readonly name: string }
  | { readonly kind: "constant"; readonly data: HostArray }
  | { readonly kind: "node"; readonly node: number };

/** An immutable, shape-checked graph ready for a backend to compile. */
export interface Graph {
  /** Every value; `values[id]`. */
  readonly values: readonly (Value & ValueKind)[];
  /** Ops in a valid execution order. */
  readonly nodes: readonly Node[];
  /** Graph inputs by name. */
  readonly inputs: ReadonlyMap<string, number>;
  /** Graph outputs by name. */
  readonly outputs: ReadonlyMap<string, number>;
}

/** Builds a {@link Graph}. Each op added is shape-checked immediately. */
export class GraphBuilder {
  #values: (Value & ValueKind)[] = [];
  #nodes: Node[] = [];
  #inputs = new Map<string, number>();
  #outputs = new Map<string, number>();
  #names = new Set<string>();
  #built = false;

  /** Declares a named graph input. */
  input(name: string, shape: readonly number[], dtype: TensorSpec["dtype"] = "f32"): Value {
    this.#open();
    if (this.#inputs.has(name)) throw new GraphError(`input "${name}" declared twice`);
    checkShape(shape, `input "${name}"`);
    const v = this.#add({ shape: [...shape], dtype }, name, { kind: "input", name });
    this.#inputs.set(name, v.id);
    return v;
  }

  /**
   * Declares constant data (weights). The array is uploaded once per device and shared by
   * every graph that passes the same array object, so keep and reuse the array.
   */
  constant(name: string, data: HostArray, shape: readonly number[]): Value {
    this.#open();
    checkShape(shape, `constant "${name}"`);
    if (numel(shape) !== data.length) {
      throw new ShapeError(
        `constant "${name}": ${data.length} elements do not fill shape ${fmtShape(shape)}`,
      );
    }
    return this.#add({ shape: [...shape], dtype: dtypeOf(data) }, name, { kind: "constant", data });
  }

  /**
   * Adds an op; returns its outputs (most ops have one: use `g.op1`).
   * @param name instance name, unique; defaults to `type#index`
   */
  op<A>(op: OpDef<A>, inputs: readonly Value[], attrs: A, name?: string): Value[] {
    this.#open();
    const nodeName = name ?? `${op.type}#${this.#nodes.length}`;
    if (this.#names.has(nodeName)) throw new GraphError(`op name "${nodeName}" used twice`);
    for (const v of inputs) {
      if (this.#values[v.id] !== v) {
        throw new GraphError(`${op.type} "${nodeName}": input "${v.name}" is from another graph`);
      }
    }
    const specs = op.infer(inputs.map((v) => v.spec), attrs, nodeName);
    specs.forEach((s) => checkShape(s.shape, `${op.type} "${nodeName}" output`));
    this.#names.add(nodeName);
    const nodeIndex = this.#nodes.length;
    const outs = specs.map((s, i) =>
      this.#add(s, specs.length > 1 ? `${nodeName}:${i}` : nodeName, {
        kind: "node",
        node: nodeIndex,
      })
    );
    this.#nodes.push({
      op,
      attrs,
      name: nodeName,
      inputs: inputs.map((v) => v.id),
      outputs: outs.map((v) => v.id),
    });
    return outs;
  }

  /** Adds a single-output op and returns its output. */
  op1<A>(op: OpDef<A>, inputs: readonly Value[], attrs: A, name?: string): Value {
    return this.op(op, inputs, attrs, name)[0];
  }

  /** Marks a value as a named graph output. */
  output(name: string, v: Value): void {
    this.#open();
    if (this.#outputs.has(name)) throw new GraphError(`output "${name}" declared twice`);
    if (this.#values[v.id] !== v) throw new GraphError(`output "${name}" is from another graph`);
    this.#outputs.set(name, v.id);
  }

  /** Finishes the graph. The builder cannot be used afterwards. */
  build(): Graph {
    this.#open();
    if (this.#outputs.size === 0) throw new GraphError("graph has no outputs");
    this.#built = true;
    return {
      values: this.#values,
      nodes: this.#nodes,
      inputs: this.#inputs,
      outputs: this.#outputs,
    };
  }

  #add(spec: TensorSpec, name: string, kind: ValueKind): Value & ValueKind {
    const v = { id: this.#values.length, spec, name, ...kind };
    this.#values.push(v);
    return v;
  }

  #open(): void {
    if (this.#built) throw new GraphError("graph already built");
  }
}

function checkShape(shape: readonly number[], what: string): void {
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(`${what}: invalid shape ${fmtShape(shape)} (dimensions must be ≥ 1)`);
  }
}
