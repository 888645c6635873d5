// The ONNX Runtime peer: times session.run of an exported DeiT on the CPU execution provider.
//
//   node ort_bench.mjs --model M.onnx --input X.bin --batch B --threads T [--runs 30] [--warmup 5]
//                      [--output LOGITS.bin] [--allow-spinning 0|1]
//
// X.bin holds the [B, 3, S, S] float32 input (little-endian, written by bench_common.write_raw);
// the same tensor object is fed to every run. Only `await session.run(feeds)` is timed: session
// creation (graph optimisation), input reading and the warm-up runs are not. Prints one JSON
// document on stdout. Exit codes follow cli/EXIT_CODES.md: 2 usage, 3 model or input file, 4 runtime.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function fail(code, message) {
  process.stderr.write(`ort_bench: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const options = { runs: 30, warmup: 5, output: "" };
  const integers = new Set(["batch", "threads", "runs", "warmup", "allow-spinning"]);
  const known = new Set(["model", "input", "output", ...integers]);
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const name = flag.startsWith("--") ? flag.slice(2) : "";
    if (!known.has(name)) fail(2, `unknown argument ${flag}`);
    if (i + 1 >= argv.length) fail(2, `${flag} needs a value`);
    const value = argv[i + 1];
    if (integers.has(name)) {
      if (!/^[0-9]+$/.test(value)) fail(2, `${flag} ${value} is not a non-negative integer`);
      options[name] = Number(value);
    } else {
      options[name] = value;
    }
  }
  for (const required of ["model", "input", "batch", "threads"]) {
    if (options[required] === undefined) fail(2, `--${required} is required`);
  }
  if (options.batch < 1 || options.threads < 1) fail(2, "--batch and --threads must be at least 1");
  if (options["allow-spinning"] !== undefined && options["allow-spinning"] > 1) {
    fail(2, "--allow-spinning must be 0 or 1");
  }
  return options;
}

// Same definitions as bench_common.summarize: median averages the two middle samples of an even
// count; p90 is the nearest-rank percentile.
function summarize(samples) {
  const ordered = [...samples].sort((a, b) => a - b);
  const n = ordered.length;
  if (n === 0) return { median_ms: null, p90_ms: null };
  const median = n % 2 ? ordered[(n - 1) / 2] : 0.5 * (ordered[n / 2 - 1] + ordered[n / 2]);
  const rank = Math.max(1, Math.ceil(0.9 * n));
  return { median_ms: median, p90_ms: ordered[rank - 1] };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require("onnxruntime-node");
  } catch (error) {
    fail(4, `cannot load onnxruntime-node (run "npm install --ignore-scripts" in bench/): ${error.message}`);
  }

  let bytes;
  try {
    bytes = readFileSync(options.input);
  } catch (error) {
    fail(3, `${options.input}: cannot read the input tensor: ${error.code || error.message}`);
  }
  const floats = bytes.length / 4;
  const side = Math.round(Math.sqrt(floats / (options.batch * 3)));
  if (floats === 0 || bytes.length % 4 !== 0 || options.batch * 3 * side * side !== floats) {
    fail(3, `${options.input}: ${bytes.length} bytes is not a [${options.batch}, 3, S, S] float32 tensor`);
  }
  // Copy into an aligned Float32Array: the Buffer may start at an offset not divisible by 4.
  const pixels = new Float32Array(floats);
  new Uint8Array(pixels.buffer).set(bytes);

  const sessionOptions = {
    executionProviders: ["cpu"],
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  };
  // ONNX Runtime's intra-op threads spin while waiting for work unless told otherwise; by default
  // that is left as shipped. --allow-spinning 0 makes them sleep, like the OpenMP engines' PASSIVE.
  if (options["allow-spinning"] !== undefined) {
    sessionOptions.extra = { session: { intra_op: { allow_spinning: String(options["allow-spinning"]) } } };
  }
  let session;
  try {
    session = await ort.InferenceSession.create(options.model, sessionOptions);
  } catch (error) {
    fail(3, `${options.model}: onnxruntime cannot load the model: ${error.message.split("\n")[0]}`);
  }

  const input = new ort.Tensor("float32", pixels, [options.batch, 3, side, side]);
  const feeds = { [session.inputNames[0]]: input };
  const outputName = session.outputNames[0];
  const samples = [];
  let logits = null;
  try {
    for (let i = 0; i < options.warmup + options.runs; i++) {
      const start = process.hrtime.bigint();
      const results = await session.run(feeds);
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      if (i >= options.warmup) samples.push(elapsed);
      logits = results[outputName];
    }
    if (logits === null) {
      logits = (await session.run(feeds))[outputName];  // --runs 0 --warmup 0: just the output
    }
  } catch (error) {
    fail(4, `${options.model}: session.run failed: ${error.message.split("\n")[0]}`);
  }
  if (options.output) {
    const data = logits.data;
    writeFileSync(options.output, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  const report = {
    schema_version: 1,
    engine: "onnxruntime",
    onnxruntime_version: ort.env.versions ? ort.env.versions.node : "unknown",
    node_version: process.versions.node,
    model: options.model,
    batch: options.batch,
    threads: options.threads,
    runs: options.runs,
    warmup: options.warmup,
    session_options: sessionOptions,
    timed: "await session.run(feeds) on one preallocated input tensor; session creation and warm-up excluded",
    ...summarize(samples),
    samples_ms: samples,
    output_shape: logits.dims,
  };
  process.stdout.write(JSON.stringify(report) + "\n");
}

main();
