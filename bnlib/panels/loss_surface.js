// The loss-surface explorer's front end: a plain ES module that anywidget loads (no npm, no bundler, no CDN).
//
// The kernel (bnlib.panels.conditioning.LossSurfacePanel) sends the bowl of the current setting: S = XᵀX/n,
// r = Xᵀy/n, w*, the eigen-decompositions numpy computed, the view and the axis labels. Everything that
// η/η_max, momentum β and the step count change is computed here, on every animation frame of a drag,
// without waiting for the kernel: the gradient-descent path, the excess-loss curve, the steps to converge
// and whether the run diverges. The functions below mirror bnlib/surface.py operation for operation, and a
// test runs them in Chromium against bnlib (tests/browser/test_loss_surface_browser.py): change both together.
//
// The kernel learns a slider's value when it is released (or moved by a key), so panel.values, .readouts
// and panel.set(...) keep working; during a mouse drag no message goes to the kernel.

// ----- the mathematics, as in bnlib/surface.py ---------------------------------------------------------

export const DIVERGENCE_FACTOR = 1e8; // surface.DIVERGENCE_FACTOR
export const CHUNK = 512; // surface.CHUNK
export const RTOL = 1e-6; // surface.RTOL: "converged" = the excess loss shrank a million-fold
export const MAX_STEPS = 100000; // surface.MAX_STEPS
export const EDGE_TOLERANCE = 1e-9; // surface.EDGE_TOLERANCE: a rate this close to 1 is on the edge

/** L(w) − L(w*) = (w − w*)ᵀ S (w − w*). bowl: {S: [[s00, s01], [s10, s11]], minimizer: [2]}; w: [2]. */
export function excessLoss(bowl, w) {
  const S = bowl.S;
  const d0 = w[0] - bowl.minimizer[0];
  const d1 = w[1] - bowl.minimizer[1];
  return d0 * (S[0][0] * d0 + S[0][1] * d1) + d1 * (S[1][0] * d0 + S[1][1] * d1);
}

/** L(w) = wᵀ S w − 2 wᵀ r + q. */
export function loss(bowl, w) {
  const S = bowl.S;
  const quadratic = w[0] * (S[0][0] * w[0] + S[0][1] * w[1]) + w[1] * (S[1][0] * w[0] + S[1][1] * w[1]);
  return quadratic - 2.0 * (w[0] * bowl.r[0] + w[1] * bowl.r[1]) + bowl.q;
}

/** ∇L(w) = 2 (w S − r). */
function gradient(bowl, w) {
  const S = bowl.S;
  return [2.0 * (w[0] * S[0][0] + w[1] * S[1][0] - bowl.r[0]), 2.0 * (w[0] * S[0][1] + w[1] * S[1][1] - bowl.r[1])];
}

/** The largest stable learning rate of plain gradient descent, 2/λ_max (λ: the Hessian's eigenvalues). */
export function maxStableLr(bowl) {
  return 2.0 / bowl.hessian_eigenvalues[1];
}

/** κ = λ_max/λ_min (inf when the bowl has a flat direction), as QuadraticLoss.condition_number. */
export function conditionNumber(bowl) {
  const [lamMin, lamMax] = bowl.hessian_eigenvalues;
  return lamMin > lamMax * 1e-15 ? lamMax / lamMin : Infinity;
}

/** 2/(λ_min + λ_max), the step with the fastest worst-case convergence of plain gradient descent. */
export function optimalLr(bowl) {
  return 2.0 / (bowl.hessian_eigenvalues[0] + bowl.hessian_eigenvalues[1]);
}

/**
 * The per-step factor by which the distance to w* eventually shrinks (< 1 converges): the largest root
 * modulus of z² − (1 + β − ηλ) z + β = 0 over the Hessian's eigenvalues λ (|1 − ηλ| when β = 0).
 * Closed form, where bnlib asks numpy for the roots: the two agree to rounding, and the panel treats a
 * rate within EDGE_TOLERANCE of 1 as "on the edge" on both sides.
 */
export function convergenceRate(bowl, lr, momentum) {
  let largest = 0.0;
  for (const lam of bowl.hessian_eigenvalues) {
    const trace = 1.0 + momentum - lr * lam;
    const discriminant = trace * trace - 4.0 * momentum;
    const modulus =
      discriminant < 0.0 ? Math.sqrt(momentum) : (Math.abs(trace) + Math.sqrt(discriminant)) / 2.0;
    largest = Math.max(largest, modulus);
  }
  return largest;
}

/**
 * Gradient descent (β = 0) or heavy ball from w0, as surface.gradient_descent:
 *   v ← β v − η ∇L(w),  w ← w + v;
 * stops early once the excess loss passes DIVERGENCE_FACTOR times the start's.
 * Returns {weights: [[w1, w2], …] (steps + 1 rows, fewer if it diverged), diverged, divergedAt}.
 */
export function gradientDescent(bowl, w0, lr, steps, momentum) {
  let w = [w0[0], w0[1]];
  let velocity = [0.0, 0.0];
  const limit = DIVERGENCE_FACTOR * Math.max(excessLoss(bowl, w), 2.2250738585072014e-308);
  const weights = [w];
  for (let step = 1; step <= steps; step++) {
    const g = gradient(bowl, w);
    velocity = [momentum * velocity[0] - lr * g[0], momentum * velocity[1] - lr * g[1]];
    w = [w[0] + velocity[0], w[1] + velocity[1]];
    const excess = excessLoss(bowl, w);
    if (!Number.isFinite(excess) || excess > limit) return { weights, diverged: true, divergedAt: step };
    weights.push(w);
  }
  return { weights, diverged: false, divergedAt: null };
}

// The state of heavy ball is s_t = (e_t, e_{t−1}), e = w − w*: 4 numbers. A chunk holds CHUNK states, row
// after row, in one Float64Array (no allocation per step: this runs on every frame of a drag).

/** out = rows @ matrixᵀ for ``count`` rows of 4 (rows, out: Float64Array; matrix: 16 numbers, row-major). */
function timesTransposed(rows, count, matrix, out) {
  for (let r = 0; r < count; r++) {
    const o = 4 * r;
    const a = rows[o], b = rows[o + 1], c = rows[o + 2], d = rows[o + 3];
    for (let i = 0; i < 4; i++) {
      out[o + i] = a * matrix[4 * i] + b * matrix[4 * i + 1] + c * matrix[4 * i + 2] + d * matrix[4 * i + 3];
    }
  }
  return out;
}

/** The 4×4 product left @ right (row-major arrays of 16). */
function matrixProduct(left, right) {
  const product = new Float64Array(16);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      product[4 * i + j] =
        left[4 * i] * right[j] + left[4 * i + 1] * right[4 + j] + left[4 * i + 2] * right[8 + j] +
        left[4 * i + 3] * right[12 + j];
    }
  }
  return product;
}

/**
 * The states s_t = (e_t, e_{t−1}) of heavy ball (gradient descent when β = 0), CHUNK at a time, exactly as
 * surface._heavy_ball_error_chunks: s_t = Aᵗ s_0 with A = [[(1+β) I − η H, −β I], [I, 0]], e_{−1} = e_0;
 * the first chunk by doubling (block [k, 2k) is A^k applied to block [0, k)), each later chunk the previous
 * one times A^CHUNK, with entries below 1e-200 of the start flushed to zero. Yields the same Float64Array
 * (CHUNK × 4) refilled: read it before asking for the next.
 */
export function* heavyBallStates(bowl, w0, lr, momentum) {
  const S = bowl.S;
  const a = (i, j) => (i === j ? 1.0 + momentum : 0.0) - lr * (2.0 * S[i][j]); // H = 2S
  let power = Float64Array.from([
    a(0, 0), a(0, 1), -momentum, -0.0,
    a(1, 0), a(1, 1), -0.0, -momentum,
    1.0, 0.0, 0.0, 0.0,
    0.0, 1.0, 0.0, 0.0,
  ]); // invariant: power = A ** filled
  const e0 = [w0[0] - bowl.minimizer[0], w0[1] - bowl.minimizer[1]];
  let chunk = new Float64Array(4 * CHUNK);
  chunk.set([e0[0], e0[1], e0[0], e0[1]]);
  const floor = 1e-200 * Math.max(Math.max(Math.abs(e0[0]), Math.abs(e0[1])), 2.2250738585072014e-308);
  let filled = 1;
  while (filled < CHUNK) {
    timesTransposed(chunk, filled, power, chunk.subarray(4 * filled, 8 * filled));
    filled *= 2;
    power = matrixProduct(power, power);
  }
  let next = new Float64Array(4 * CHUNK);
  for (;;) {
    yield chunk;
    timesTransposed(chunk, CHUNK, power, next);
    for (let k = 0; k < next.length; k++) if (Math.abs(next[k]) < floor) next[k] = 0.0;
    [chunk, next] = [next, chunk];
  }
}

/** The excess loss of the state in row ``row`` of a chunk: ((e @ S) * e).sum(). */
function stateExcess(S, chunk, row) {
  const e1 = chunk[4 * row], e2 = chunk[4 * row + 1];
  return (e1 * S[0][0] + e2 * S[1][0]) * e1 + (e1 * S[0][1] + e2 * S[1][1]) * e2;
}

/** L(w_t) − L(w*) for t = 0 … steps, in closed form, as surface.excess_loss_curve (inf once it overflows). */
export function excessLossCurve(bowl, w0, lr, steps, momentum) {
  const curve = [];
  for (const chunk of heavyBallStates(bowl, w0, lr, momentum)) {
    for (let row = 0; row < CHUNK; row++) {
      const value = stateExcess(bowl.S, chunk, row);
      curve.push(Number.isFinite(value) ? value : Infinity);
      if (curve.length > steps) return curve;
    }
  }
  return curve;
}

/**
 * Steps until the excess loss falls below rtol × its start and stays there, or null (not within maxSteps,
 * on the edge, or diverging), as surface.steps_to_converge.
 */
export function stepsToConverge(bowl, w0, lr, momentum, rtol = RTOL, maxSteps = MAX_STEPS) {
  if (convergenceRate(bowl, lr, momentum) >= 1.0) return null;
  const tolerance = rtol * excessLoss(bowl, w0);
  if (momentum === 0.0) return gradientDescentSteps(bowl, w0, lr, tolerance, maxSteps);
  let start = 0;
  let lastAbove = -1;
  for (const chunk of heavyBallStates(bowl, w0, lr, momentum)) {
    for (let row = CHUNK - 1; row >= 0; row--) {
      if (stateExcess(bowl.S, chunk, row) > tolerance) {
        lastAbove = start + row;
        break;
      }
    }
    start += CHUNK;
    const settled = start >= 2 * (lastAbove + 1);
    if (settled || start > maxSteps) break;
  }
  const steps = lastAbove + 1;
  return steps <= maxSteps ? steps : null;
}

/** Plain gradient descent: bisection on the closed form Σ_i s_i (v_iᵀ e_0)² (1 − 2η s_i)^(2t). */
function gradientDescentSteps(bowl, w0, lr, tolerance, maxSteps) {
  const values = bowl.s_eigenvalues;
  const vectors = bowl.s_eigenvectors; // columns are eigenvectors, as numpy's eigh
  const e0 = [w0[0] - bowl.minimizer[0], w0[1] - bowl.minimizer[1]];
  const weights = values.map((s, i) => {
    const projection = vectors[0][i] * e0[0] + vectors[1][i] * e0[1];
    return s * projection ** 2;
  });
  const logFactors = values.map((s) => 2.0 * Math.log(Math.abs(1.0 - 2.0 * lr * s) + 1e-300));
  const excess = (t) => weights[0] * Math.exp(t * logFactors[0]) + weights[1] * Math.exp(t * logFactors[1]);
  if (excess(maxSteps) > tolerance) return null;
  let low = -1;
  let high = maxSteps;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (excess(middle) > tolerance) low = middle;
    else high = middle;
  }
  return high;
}

// ----- numbers as the kernel prints them (Python's format mini-language) -------------------------------

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** format(x, ".{precision}g"), with "," grouping when ``grouping``. */
export function formatG(x, precision, grouping = false) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mantissa, exponentText] = x.toExponential(precision - 1).split("e");
  const exponent = Number(exponentText);
  const strip = (text) => (text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text);
  if (exponent < -4 || exponent >= precision) {
    const sign = exponent < 0 ? "-" : "+";
    return `${strip(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  const fixed = strip(x.toFixed(Math.max(0, precision - 1 - exponent)));
  if (!grouping) return fixed;
  const negative = fixed.startsWith("-");
  const [whole, fraction] = (negative ? fixed.slice(1) : fixed).split(".");
  return `${negative ? "-" : ""}${groupThousands(whole)}${fraction === undefined ? "" : `.${fraction}`}`;
}

/** format(steps, ",") or "more than 100,000" when it never converges (surface.format_steps). */
export function formatSteps(steps, maxSteps = MAX_STEPS) {
  return steps === null ? `more than ${groupThousands(String(maxSteps))}` : groupThousands(String(steps));
}

/**
 * Everything the panel shows for one setting: {path, curve, diverged, message, readouts, …}.
 * The same numbers and the same readout texts as surface.loss_surface_numbers in the kernel.
 */
export function surfaceNumbers(bowl, lrRatio, momentum, steps) {
  const w0 = [0.0, 0.0];
  const etaMax = maxStableLr(bowl);
  const lr = lrRatio * etaMax;
  const path = gradientDescent(bowl, w0, lr, steps, momentum);
  const curve = excessLossCurve(bowl, w0, lr, steps, momentum);
  const rate = convergenceRate(bowl, lr, momentum);
  const edgeRatio = 1.0 + momentum;
  if (rate >= 1.0 - EDGE_TOLERANCE) {
    const message =
      `η = ${lrRatio.toFixed(2)}·η_max is at or past the stability edge 2(1+β)/λ_max = ` +
      `${edgeRatio.toFixed(2)}·η_max: every step overshoots the steep direction by at least as much as it ` +
      "corrects, and the path never settles. Lower η / η_max.";
    return { lr, path, curve, rate, stepsNeeded: null, message, readouts: {} };
  }
  const stepsNeeded = stepsToConverge(bowl, w0, lr, momentum, RTOL, MAX_STEPS);
  const readouts = {
    "condition number κ = λ_max/λ_min": formatG(conditionNumber(bowl), 4, true),
    "largest stable η: η_max = 2/λ_max": formatG(etaMax, 3),
    "η used": `${formatG(lr, 3)}  (= ${lrRatio.toFixed(2)}·η_max)`,
    "best η for plain GD": `${(optimalLr(bowl) / etaMax).toFixed(3)}·η_max = 2/(λ_min+λ_max)`,
    "steps until L − L* shrinks 10⁶×": formatSteps(stepsNeeded),
    [`L − L* after ${steps} steps`]: `${formatG(curve[curve.length - 1], 3)} kg²`,
  };
  return { lr, path, curve, rate, stepsNeeded, message: "", readouts };
}

// ----- drawing -----------------------------------------------------------------------------------------

const STYLE = `
.bnlib-ls { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color0, #111);
  font-size: calc(var(--bnlib-text-scale, 1) * 13px); }
.bnlib-ls-column { flex: 0 0 auto; width: calc(var(--bnlib-text-scale, 1) * 290px); }
.bnlib-ls-title { font-weight: 600; margin: 0 0 6px 0; }
.bnlib-ls-control { display: grid; grid-template-columns: 9.5em 1fr 3.3em; align-items: center;
  column-gap: 6px; margin: 3px 0; }
.bnlib-ls-control label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.bnlib-ls-control input[type=range] { width: 100%; min-width: 0; margin: 0; }
.bnlib-ls-control select { grid-column: 2 / 4; font: inherit; min-width: 0; }
.bnlib-ls-control output { text-align: right; font-variant-numeric: tabular-nums; }
.bnlib-ls input:focus-visible, .bnlib-ls select:focus-visible { outline: 2px solid #1d4ed8; outline-offset: 1px; }
.bnlib-ls-live { flex: 1 0 100%; }
.bnlib-ls-readouts { display: flex; flex-wrap: wrap; column-gap: 2em; row-gap: 2px; line-height: 1.3; }
.bnlib-ls-readout { white-space: nowrap; }
.bnlib-ls-readout b { font-variant-numeric: tabular-nums; }
.bnlib-ls-message { padding: 6px 8px; border: 2px solid #b45309; border-radius: 4px;
  background: #fff3cd; color: #4a2a04; }
.bnlib-ls-message::before { content: "⚠ "; font-weight: 700; }
.bnlib-ls-figure { flex: 1 1 420px; min-width: 420px; max-width: 680px; }
.bnlib-ls-figure canvas { display: block; width: 100%; }
`;

const PATH_COLOUR = "#dc2626";
// Canvas text: never below the course's figure text, 10 pt (bnlib.live.style()), times text_scale (1.2 in
// projector mode: 12 pt). 1 pt = 96/72 CSS px; not rounded down, so 10 pt stays 13.33 px and not 13.
export const TEXT_PX = (10 * 96) / 72;
export const textPx = (scale) => TEXT_PX * Math.max(1, scale);
// A canvas font cannot name a CSS variable (the whole setting would be ignored, leaving 10 px sans-serif):
// draw() reads the family JupyterLab's variable resolves to from the widget's computed style.
let canvasFontFamily = "system-ui, sans-serif";
const FONT = (scale) => `${textPx(scale).toFixed(2)}px ${canvasFontFamily}`;

/** Round tick positions (about ``count``) covering [low, high]. */
export function niceTicks(low, high, count = 4) {
  const span = high - low;
  if (!(span > 0) || !Number.isFinite(span)) return [low];
  const rough = span / count;
  const decade = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * decade).find((s) => s >= rough) ?? 10 * decade;
  const ticks = [];
  for (let k = Math.ceil(low / step - 1e-9); k * step <= high + step * 1e-9; k++) ticks.push(k * step);
  return ticks;
}

function tickLabel(value, step) {
  if (Math.abs(value) < step * 1e-6) return "0";
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const text = Math.abs(value) >= 1e5 || (Math.abs(value) < 1e-3 && value !== 0)
    ? value.toExponential(1).replace("e-", "e−").replace("e+", "e")
    : value.toFixed(Math.min(digits + 1, 8)).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  return text.replace(/^-/, "−");
}

/** A 256 × 256 RGBA picture of log10 of the relative excess loss over the view (computed once per view). */
function lossImage(bowl, colormap, size) {
  const [x0, x1, y0, y1] = bowl.view;
  const image = new ImageData(size, size);
  const data = image.data;
  const low = -6.0;
  const high = 1.0;
  for (let row = 0; row < size; row++) {
    const w2 = y1 - ((row + 0.5) / size) * (y1 - y0); // row 0 is the top of the picture
    for (let column = 0; column < size; column++) {
      const w1 = x0 + ((column + 0.5) / size) * (x1 - x0);
      const relative = excessLoss(bowl, [w1, w2]) / bowl.start_excess;
      const fraction = (Math.log10(relative + 1e-12) - low) / (high - low);
      const index = Math.min(255, Math.max(0, Math.floor(fraction * 256)));
      const offset = 4 * (row * size + column);
      data[offset] = colormap[3 * index];
      data[offset + 1] = colormap[3 * index + 1];
      data[offset + 2] = colormap[3 * index + 2];
      data[offset + 3] = 255;
    }
  }
  return image;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "bnlib-ls";
  const style = document.createElement("style");
  style.textContent = STYLE;
  root.append(style);

  const column = document.createElement("div");
  column.className = "bnlib-ls-column";
  const title = document.createElement("div");
  title.className = "bnlib-ls-title";
  title.textContent = model.get("title");
  column.append(title);

  // The controls, built from the kernel's description of them (one source for ranges and options).
  const local = { ...model.get("values") }; // values shown now, ahead of the kernel during a drag
  const inputs = {};
  const outputs = {};
  const drawnHere = new Set(model.get("drawn_here")); // controls whose picture the browser computes alone
  for (const spec of model.get("controls")) {
    const row = document.createElement("div");
    row.className = "bnlib-ls-control";
    const label = document.createElement("label");
    const id = `bnlib-ls-${spec.name}-${Math.random().toString(36).slice(2, 8)}`;
    label.htmlFor = id;
    label.textContent = spec.label;
    label.title = spec.label;
    row.append(label);
    let input;
    if (spec.kind === "options") {
      input = document.createElement("select");
      for (const option of spec.options) {
        const element = document.createElement("option");
        element.value = option;
        element.textContent = option;
        input.append(element);
      }
      input.value = local[spec.name];
    } else {
      input = document.createElement("input");
      input.type = "range";
      input.min = spec.min;
      input.max = spec.max;
      input.step = spec.step;
      input.value = local[spec.name];
      const output = document.createElement("output");
      output.htmlFor = id;
      outputs[spec.name] = output;
    }
    input.id = id;
    input.dataset.control = spec.name;
    // Arrow keys, Page Up/Down, Home and End move the focused control, not JupyterLab's cell selection
    // (Lumino checks the focused element itself, then its parents).
    input.setAttribute("data-lm-suppress-shortcuts", "true");
    row.append(input);
    if (outputs[spec.name]) row.append(outputs[spec.name]);
    column.append(row);
    inputs[spec.name] = input;

    const read = () => (spec.kind === "options" ? input.value : spec.integer ? parseInt(input.value, 10) : parseFloat(input.value));
    // Drawn at once, not at the next animation frame: Chromium already delivers a drag's input events one
    // per frame, and a key press then shows in the very next frame.
    input.addEventListener("input", () => {
      local[spec.name] = read();
      showValue(spec.name);
      if (drawnHere.has(spec.name)) draw();
      else requestBowl(spec.name);
    });
    // η, β and the steps: the kernel learns the value when the slider is released, or moved by a key; never
    // during a drag.
    input.addEventListener("change", () => {
      local[spec.name] = read();
      if (!drawnHere.has(spec.name)) return requestBowl(spec.name);
      model.set("values", { ...model.get("values"), [spec.name]: local[spec.name] });
      model.save_changes();
    });
    // A mouse drag would queue an announcement per frame: the live region waits for the release.
    input.addEventListener("pointerdown", () => {
      readoutsBox.setAttribute("aria-live", "off");
      window.addEventListener("pointerup", () => readoutsBox.setAttribute("aria-live", "polite"), { once: true });
    });
  }

  // Units, offsets, correlation, features: the picture needs the kernel's bowl for the new value. While such
  // a control moves, one request is on its way at a time, and its reply sends the latest value: the picture
  // follows a drag at the kernel's pace instead of queueing every step of it.
  let bowlOnItsWay = null; // a timer while a request waits for its bowl
  function requestBowl(name) {
    const known = model.get("values");
    if (known[name] === local[name] || bowlOnItsWay !== null) return;
    model.set("values", { ...known, [name]: local[name] });
    model.save_changes();
    bowlOnItsWay = setTimeout(bowlArrived, 1000); // a lost reply must not stop the updates
  }
  function bowlArrived() {
    clearTimeout(bowlOnItsWay);
    bowlOnItsWay = null;
    for (const spec of model.get("controls")) if (!drawnHere.has(spec.name)) requestBowl(spec.name);
  }

  function showValue(name) {
    const spec = model.get("controls").find((s) => s.name === name);
    if (!outputs[name]) return;
    const value = local[name];
    outputs[name].textContent = spec.integer ? String(value) : value.toFixed(spec.decimals ?? 2);
    inputs[name].setAttribute("aria-valuetext", outputs[name].textContent);
  }
  Object.keys(outputs).forEach(showValue);

  // Readouts: a polite live region, so a screen reader says the new κ or step count after a key press.
  // Below the controls and the figure, across the whole width, as the other panels' readouts: each one an
  // unbreakable line, and lines break between readouts, never inside one.
  const readoutsBox = document.createElement("div");
  readoutsBox.className = "bnlib-ls-live";
  readoutsBox.setAttribute("aria-live", "polite");
  readoutsBox.setAttribute("role", "status");
  const readoutList = document.createElement("div");
  readoutList.className = "bnlib-ls-readouts";
  const message = document.createElement("div");
  message.className = "bnlib-ls-message";
  message.hidden = true;
  readoutsBox.append(readoutList, message);

  const figure = document.createElement("div");
  figure.className = "bnlib-ls-figure";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  figure.append(canvas);
  root.append(column, figure, readoutsBox);
  el.append(root);

  // ----- state kept between frames
  let imageCanvas = null; // the loss image of the current bowl and view, at device resolution
  let imageKey = null;
  let frameRequested = false;
  let lastShown = null;
  const colormap = model.get("colormap");

  function scheduleDraw() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      draw();
    });
  }

  function layout() {
    const scale = model.get("text_scale");
    const lines = model.get("line_scale") || 1;
    root.style.setProperty("--bnlib-text-scale", String(scale));
    const ratio = window.devicePixelRatio || 1;
    const cssWidth = Math.max(300, figure.clientWidth || 600);
    // No taller than the square loss image and its labels need: the readouts follow right below.
    const { side, top, bottom } = margins(cssWidth, cssWidth * 0.52, scale);
    const cssHeight = Math.ceil(top + side + bottom);
    if (canvas.width !== Math.round(cssWidth * ratio) || canvas.height !== Math.round(cssHeight * ratio)) {
      canvas.width = Math.round(cssWidth * ratio);
      canvas.height = Math.round(cssHeight * ratio);
      canvas.style.height = `${cssHeight}px`;
      imageKey = null;
    }
    return { ratio, cssWidth, cssHeight, scale, lines };
  }

  function draw() {
    const bowl = model.get("bowl");
    const { ratio, cssWidth, cssHeight, scale, lines } = layout();
    canvasFontFamily = getComputedStyle(root).fontFamily || canvasFontFamily;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, cssWidth, cssHeight);
    if (!bowl || bowl.problem) {
      showMessage(bowl ? bowl.problem : "");
      readoutList.replaceChildren();
      return;
    }
    const numbers = surfaceNumbers(bowl, local.lr_ratio, local.momentum, local.steps);
    const fontSize = textPx(scale);
    const { left, top, side } = margins(cssWidth, cssHeight, scale);
    const surfaceBox = { x: left, y: top, w: side, h: side };
    const curveLeft = left + side + 5.5 * fontSize;
    // Room on the right for half of the last step label ("200").
    const curveBox = { x: curveLeft, y: top, w: cssWidth - curveLeft - 8 - 1.2 * fontSize, h: side };
    drawSurface(ctx, bowl, numbers, surfaceBox, ratio, scale, lines);
    drawCurve(ctx, bowl, numbers, curveBox, scale, lines);
    showReadouts(numbers);
    canvas.setAttribute(
      "aria-label",
      `Loss over the weights with the gradient-descent path (${numbers.path.weights.length - 1} steps drawn` +
        `${numbers.message ? ", diverging" : ""}), and the excess loss per step on a log scale.`,
    );
    lastShown = numbers;
    root.dataset.frames = String(Number(root.dataset.frames || 0) + 1); // counted by the browser benchmark
  }

  function toPixels(bowl, box) {
    const [x0, x1, y0, y1] = bowl.view;
    return (w) => [box.x + ((w[0] - x0) / (x1 - x0)) * box.w, box.y + ((y1 - w[1]) / (y1 - y0)) * box.h];
  }

  function drawSurface(ctx, bowl, numbers, box, ratio, scale, lines) {
    const key = JSON.stringify([bowl.key, bowl.view, box, ratio]);
    if (key !== imageKey) {
      // Recomputed only when the bowl or the view changes, never while η, β or the steps move.
      const size = Math.max(16, Math.round(box.w * ratio));
      imageCanvas = document.createElement("canvas");
      imageCanvas.width = size;
      imageCanvas.height = size;
      imageCanvas.getContext("2d").putImageData(lossImage(bowl, colormap, size), 0, 0);
      imageKey = key;
    }
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(imageCanvas, box.x, box.y, box.w, box.h);
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.x, box.y, box.w, box.h);
    ctx.clip();
    const map = toPixels(bowl, box);
    const [x0, x1] = bowl.view;
    const pixelsPerUnit = box.w / (x1 - x0);
    // Contours: exact ellipses from the eigen-decomposition of S, each half the size of the last
    // ({w : (w − w*)ᵀ S (w − w*) = c}: semi-axes √(c/s_i) along the eigenvectors v_i).
    const [cx, cy] = map(bowl.minimizer);
    const angle = -Math.atan2(bowl.s_eigenvectors[1][0], bowl.s_eigenvectors[0][0]); // screen y points down
    ctx.strokeStyle = "rgba(255,255,255,0.75)";
    ctx.lineWidth = 0.9 * lines;
    for (let k = 0; k < 6; k++) {
      const level = bowl.start_excess * 4 ** -k;
      const radii = bowl.s_eigenvalues.map((s) => Math.min(1e7, Math.sqrt(level / s) * pixelsPerUnit));
      ctx.beginPath();
      ctx.ellipse(cx, cy, radii[0], radii[1], angle, 0, 2 * Math.PI);
      ctx.stroke();
    }
    // The path: a white halo under the red line and dots, so it reads on dark and light parts alike.
    const points = numbers.path.weights.map(map);
    for (const [colour, width, dot] of [["#ffffff", 3.2, 3.4], [PATH_COLOUR, 1.4, 2.2]]) {
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.lineWidth = width * lines;
      ctx.beginPath();
      points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
      if (points.length <= 120) {
        for (const [x, y] of points) {
          ctx.beginPath();
          ctx.arc(x, y, dot * lines, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
    }
    // Start: a white dot ringed black; minimizer: a star (shapes, not only colours).
    const [sx, sy] = map([0, 0]);
    ctx.fillStyle = "#ffffff";
    ctx.strokeStyle = "#000000";
    ctx.lineWidth = 1.2 * lines;
    ctx.beginPath();
    ctx.arc(sx, sy, 4.5 * lines, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
    drawStar(ctx, cx, cy, 8 * Math.sqrt(scale), lines);
    ctx.restore();
    axesFrame(ctx, box, lines);
    const ticks = (low, high) => niceTicks(low, high, 4);
    const [, , y0, y1] = bowl.view;
    ctx.fillStyle = "#111111";
    ctx.font = FONT(scale);
    const xTicks = ticks(x0, x1);
    const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of xTicks) {
      const [x] = map([t, 0]);
      tickMark(ctx, x, box.y + box.h, x, box.y + box.h + 4);
      ctx.fillText(tickLabel(t, xStep), x, box.y + box.h + 6);
    }
    const yTicks = ticks(y0, y1);
    const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of yTicks) {
      const [, y] = map([0, t]);
      tickMark(ctx, box.x - 4, y, box.x, y);
      ctx.fillText(tickLabel(t, yStep), box.x - 6, y);
    }
    const fontSize = textPx(scale);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillText(bowl.x_label, box.x + box.w / 2, box.y + box.h + 6 + 1.3 * fontSize);
    ctx.textBaseline = "bottom";
    ctx.fillText("loss over the weights", box.x + box.w / 2, box.y - 5);
    ctx.save();
    ctx.translate(box.x - 5.8 * fontSize, box.y + box.h / 2); // the left edge of the canvas's margin
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "top";
    ctx.fillText(bowl.y_label, 0, 0);
    ctx.restore();
  }

  function drawCurve(ctx, bowl, numbers, box, scale, lines) {
    const lowest = -9.5;
    const highest = 3.5;
    const stepsShown = niceCeiling(Math.max(1, local.steps));
    const x = (t) => box.x + (t / stepsShown) * box.w;
    const y = (v) => box.y + ((highest - v) / (highest - lowest)) * box.h;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(box.x, box.y, box.w, box.h);
    // "converged": a dashed line at 10⁻⁶
    ctx.strokeStyle = "#6b7280";
    ctx.setLineDash([5 * lines, 4 * lines]);
    ctx.lineWidth = lines;
    ctx.beginPath();
    ctx.moveTo(box.x, y(-6));
    ctx.lineTo(box.x + box.w, y(-6));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#4b5563";
    ctx.font = FONT(scale);
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    ctx.fillText("converged", box.x + 4, y(-6) - 2);
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.x, box.y, box.w, box.h);
    ctx.clip();
    ctx.strokeStyle = PATH_COLOUR;
    ctx.lineWidth = 1.8 * lines;
    ctx.beginPath();
    numbers.curve.forEach((value, t) => {
      const shown = Math.log10(Math.min(1e300, Math.max(1e-300, value / bowl.start_excess)));
      const py = y(Math.min(shown, highest + 1)); // far above the top: clipped, clearly off the chart
      if (t) ctx.lineTo(x(t), py);
      else ctx.moveTo(x(t), py);
    });
    ctx.stroke();
    ctx.restore();
    axesFrame(ctx, box, lines);
    ctx.fillStyle = "#111111";
    ctx.font = FONT(scale);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const exponent of [-9, -6, -3, 0, 3]) {
      tickMark(ctx, box.x - 4, y(exponent), box.x, y(exponent));
      ctx.fillText(`1e${exponent}`.replace("-", "−"), box.x - 6, y(exponent));
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    // Whole steps only: a tick at 2.5 would be labelled with a rounded, wrong step number.
    const xTicks = niceTicks(0, stepsShown, 4).filter((t) => Math.abs(t - Math.round(t)) < 1e-9);
    for (const t of xTicks) {
      tickMark(ctx, x(t), box.y + box.h, x(t), box.y + box.h + 4);
      ctx.fillText(String(Math.round(t)), x(t), box.y + box.h + 6);
    }
    ctx.fillText("step", box.x + box.w / 2, box.y + box.h + 6 + 1.3 * textPx(scale));
    ctx.textBaseline = "bottom";
    ctx.fillText("(L − L*) / (L₀ − L*)", box.x + box.w / 2, box.y - 5);
    if (numbers.message) drawMessageBox(ctx, box, scale, lines);
  }

  function drawMessageBox(ctx, box, scale, lines) {
    // At or past the edge, on the picture as well as in the readouts: an amber box, a warning sign and words.
    const text = "⚠ does not converge: lower η / η_max";
    ctx.font = `bold ${FONT(scale)}`;
    const width = ctx.measureText(text).width + 16;
    const height = 1.7 * textPx(scale);
    const bx = box.x + (box.w - width) / 2;
    const by = box.y + box.h * 0.35;
    ctx.fillStyle = "#fff3cd";
    ctx.strokeStyle = "#b45309";
    ctx.lineWidth = 2 * lines;
    ctx.fillRect(bx, by, width, height);
    ctx.strokeRect(bx, by, width, height);
    ctx.fillStyle = "#4a2a04";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, bx + width / 2, by + height / 2);
  }

  function showReadouts(numbers) {
    showMessage(numbers.message);
    const items = Object.entries(numbers.readouts).map(([name, value]) => {
      const item = document.createElement("span");
      item.className = "bnlib-ls-readout";
      const nameText = document.createElement("span");
      nameText.className = "bnlib-ls-readout-name";
      nameText.textContent = name;
      const valueText = document.createElement("b");
      valueText.textContent = value;
      item.append(nameText, "\u00a0 ", valueText);
      return item;
    });
    readoutList.replaceChildren(...items);
  }

  function showMessage(text) {
    message.hidden = !text;
    message.textContent = text || "";
  }

  model.on("change:bowl", () => {
    bowlArrived();
    scheduleDraw();
  });
  model.on("change:text_scale", scheduleDraw);
  model.on("change:line_scale", scheduleDraw);
  model.on("change:values", () => {
    // A value set by the kernel (panel.set, or its echo of ours): follow it, except on the control the learner
    // is using, which may be ahead of the kernel.
    const values = model.get("values");
    for (const [name, value] of Object.entries(values)) {
      const input = inputs[name];
      if (!input || document.activeElement === input) continue;
      local[name] = value;
      input.value = String(value);
      showValue(name);
    }
    scheduleDraw();
  });
  const observer = new ResizeObserver(scheduleDraw);
  observer.observe(figure);
  scheduleDraw();
  return () => observer.disconnect();
}

/** The loss image's square (side) and the margins around it, in CSS px, for a canvas of width × height. */
function margins(width, height, scale) {
  const fontSize = textPx(scale);
  const left = 8 + 5.8 * fontSize; // the y axis label, then tick labels of up to 4 em
  const top = 2.2 * fontSize;
  const bottom = 10 + 2.6 * fontSize; // tick labels, then the x axis label
  return { left, top, bottom, side: Math.min(height - top - bottom, width * 0.5 - left) };
}

function niceCeiling(value) {
  // The smallest of 1, 2, 5, 10, 20, 50, … that is at least value (conditioning._nice_ceiling).
  const decade = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => decade * m).find((candidate) => candidate >= value);
}

function axesFrame(ctx, box, lines) {
  ctx.strokeStyle = "#111111";
  ctx.lineWidth = lines;
  ctx.strokeRect(box.x + 0.5, box.y + 0.5, box.w - 1, box.h - 1);
}

function tickMark(ctx, x0, y0, x1, y1) {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

function drawStar(ctx, x, y, radius, lines) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const r = i % 2 ? radius * 0.45 : radius;
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
  }
  ctx.closePath();
  ctx.fillStyle = "#facc15";
  ctx.strokeStyle = "#000000";
  ctx.lineWidth = 1.2 * lines;
  ctx.fill();
  ctx.stroke();
}

export default { render };
