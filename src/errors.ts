/**
 * Typed errors shared by every Tessera module.
 *
 * Every failure a user can cause (bad input, missing adapter, corrupt stream,
 * wrong model) surfaces as a subclass of {@link TesseraError} with a stable
 * machine-readable `code`, so callers branch on `code` or `instanceof` and
 * never on message text.
 * @module
 */

/** Stable identifiers of every error kind Tessera raises. */
export type TesseraErrorCode =
  | "WEBGPU_UNAVAILABLE"
  | "NO_ADAPTER"
  | "DEVICE_LOST"
  | "DEVICE_LIMIT"
  | "SHAPE"
  | "GRAPH"
  | "BITSTREAM"
  | "TRUNCATED"
  | "CHECKSUM"
  | "UNSUPPORTED"
  | "MODEL_MISMATCH"
  | "INVALID_ARGUMENT"
  | "IMAGE"
  | "WEIGHTS"
  | "FILE_EXISTS";

/** Base class of all Tessera errors. */
export class TesseraError extends Error {
  /** Machine-readable kind of the error. */
  readonly code: TesseraErrorCode;

  /**
   * Creates a TesseraError.
   * @param code machine-readable kind
   * @param message sentence a user can act on
   * @param options standard `ErrorOptions` (e.g. `cause`)
   */
  constructor(code: TesseraErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** WebGPU is missing from the runtime, or no adapter/device could be obtained. */
export class WebGpuUnavailableError extends TesseraError {
  /**
   * Creates a WebGpuUnavailableError.
   * @param message what is missing and what to install or enable
   */
  constructor(message: string, options?: ErrorOptions) {
    super("WEBGPU_UNAVAILABLE", message, options);
  }
}

/** A request exceeds what the adapter supports (binding size, workgroups, memory). */
export class DeviceLimitError extends TesseraError {
  /**
   * Creates a DeviceLimitError.
   * @param message which limit, the requested value and the adapter's maximum
   */
  constructor(message: string, options?: ErrorOptions) {
    super("DEVICE_LIMIT", message, options);
  }
}

/** Tensor shapes or attributes are inconsistent; the message names the op. */
export class ShapeError extends TesseraError {
  /**
   * Creates a ShapeError.
   * @param message the op, the offending shapes and what was expected
   */
  constructor(message: string, options?: ErrorOptions) {
    super("SHAPE", message, options);
  }
}

/** A graph was built or run incorrectly (unknown input, wrong dtype, used after dispose). */
export class GraphError extends TesseraError {
  /**
   * Creates a GraphError.
   * @param message what was wrong with the graph or its use
   */
  constructor(message: string, options?: ErrorOptions) {
    super("GRAPH", message, options);
  }
}

/** Bytes that should be a Tessera stream are malformed. */
export class BitstreamError extends TesseraError {
  /**
   * Creates a BitstreamError.
   * @param message what is malformed and where
   * @param code a more specific kind (truncation, checksum) when known
   */
  constructor(
    message: string,
    code: "BITSTREAM" | "TRUNCATED" | "CHECKSUM" | "UNSUPPORTED" = "BITSTREAM",
    options?: ErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** A stream was produced by a different model or weights than the decoder has. */
export class ModelMismatchError extends TesseraError {
  /**
   * Creates a ModelMismatchError.
   * @param message which model/weights the stream needs and which are loaded
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MODEL_MISMATCH", message, options);
  }
}

/** An argument is out of range or of the wrong kind. */
export class InvalidArgumentError extends TesseraError {
  /**
   * Creates a InvalidArgumentError.
   * @param message the argument, its value and the accepted range
   */
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_ARGUMENT", message, options);
  }
}

/** An input image cannot be used (unsupported format, channels, or size). */
export class ImageError extends TesseraError {
  /**
   * Creates a ImageError.
   * @param message what is unsupported about the image
   */
  constructor(message: string, options?: ErrorOptions) {
    super("IMAGE", message, options);
  }
}

/** Weights are missing, malformed, or do not match the model's configuration. */
export class WeightsError extends TesseraError {
  /**
   * Creates a WeightsError.
   * @param message which tensor or file is wrong and how
   */
  constructor(message: string, options?: ErrorOptions) {
    super("WEIGHTS", message, options);
  }
}
