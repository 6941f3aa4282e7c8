// rmsNorm, groupNorm, conv1d, grouped conv2d and conv2dTranspose: shapes, values against naive loops
// written here from the formulas, gradients against finite differences, config round trips.
import { describe, it, expect } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Shape, Tensor } from '@backfold/tensor'
import type { ApplyContext, Layer } from '../src/layer'
import * as L from '../src/layers/index'
import { decodeModel, encodeModel } from '../src/config/index'
import { builtinKinds } from '../src/layers/builtins'
import { flattenNamed } from '../src/tree'
import { unwrap, leftOf, key, randn, evalCtx } from './helpers'

const expectClose = (
  actual: Tensor,
  expectedShape: Shape,
  expected: ArrayLike<number>,
  tol = 1e-10,
): void => {
  expect(actual.shape).toEqual(expectedShape)
  expect(actual.data.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const a = actual.data[i]!
    const e = expected[i]!
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e))))
      throw new Error(`element ${i}: got ${a}, expected ${e}`)
  }
}

const expectVjp = (f: (...args: Tensor[]) => Tensor, args: ReadonlyArray<Tensor>): void => {
  const report = O.checkVjp(f, args, { maxJacobianEntries: 20000 })
  expect(report.ok, report.message).toBe(true)
}

const run = <P, S>(layer: Layer<P, S>, params: P, state: S, x: Tensor, ctx: ApplyContext = evalCtx): Tensor =>
  layer.apply(params, state, x, ctx)[0]

/** Config JSON → layer → the same config, and the decoded layer computes what the original does. */
const sameAfterDecode = <P, S>(layer: Layer<P, S>, inShape: Shape, x: Tensor): void => {
  const encoded = encodeModel(layer)
  if (E.isLeft(encoded)) throw new Error(encoded.left.message)
  const decoded = decodeModel(JSON.parse(JSON.stringify(encoded.right)))
  if (E.isLeft(decoded)) throw new Error(decoded.left.message)
  expect(decoded.right.config).toEqual(layer.config)
  const init = unwrap(layer.init(key(3), inShape))
  const again = unwrap(decoded.right.init(key(3), inShape))
  expect(again.outShape).toEqual(init.outShape)
  const a = run(layer, init.params, init.state, x)
  const b = run(decoded.right, init.params, init.state, x)
  expectClose(b, a.shape, a.data)
}

/** A direct loop: per example, the last `count` dims (`size` values) scaled by 1/√(mean x² + eps), times w. */
const rmsReference = (x: Tensor, size: number, eps: number, weight?: Tensor): number[] => {
  const out: number[] = []
  for (let start = 0; start < x.data.length; start += size) {
    let sum = 0
    for (let i = 0; i < size; i++) sum += x.data[start + i]! ** 2
    const scale = 1 / Math.sqrt(sum / size + eps)
    for (let i = 0; i < size; i++) out.push(x.data[start + i]! * scale * (weight?.data[i] ?? 1))
  }
  return out
}

describe('rmsNorm', () => {
  it('infers a weight over the last `axes` dimensions; bad shapes and options are path errors', () => {
    expect(unwrap(L.rmsNorm().init(key(0), [4, 6])).params.weight.shape).toEqual([6])
    expect(unwrap(L.rmsNorm({ axes: 2 }).init(key(0), [4, 6])).params.weight.shape).toEqual([4, 6])
    expect(unwrap(L.rmsNorm({ affine: false }).init(key(0), [4, 6])).params).toEqual({})
    const e = leftOf(L.rmsNorm({ axes: 3 }).init(key(0), [4, 6]))
    expect(e.path).toBe('rmsNorm')
    expect(e.message).toContain('[4,6]')
    expect(leftOf(L.rmsNorm({ axes: 0 }).init(key(0), [4])).message).toContain('axes')
    expect(leftOf(L.rmsNorm({ eps: -1 }).init(key(0), [4])).message).toContain('eps')
    expect(() => L.rmsNorm({ epsilon: 1 } as never)).toThrow(/epsilon/)
  })

  it('matches a naive loop, with and without weight, over one and two trailing dims', () => {
    const x = randn(1, [2, 3, 4])
    const w1 = randn(2, [4])
    expectClose(run(L.rmsNorm({ eps: 1e-3 }), { weight: w1 }, {}, x), [2, 3, 4], rmsReference(x, 4, 1e-3, w1))
    const w2 = randn(3, [3, 4])
    expectClose(
      run(L.rmsNorm({ axes: 2, eps: 0.5 }), { weight: w2 }, {}, x, { training: true }),
      [2, 3, 4],
      rmsReference(x, 12, 0.5, w2),
    )
    expectClose(run(L.rmsNorm({ affine: false }), {}, {}, x), [2, 3, 4], rmsReference(x, 4, 1e-6))
  })

  it('has the right gradient w.r.t. input and weight', () => {
    const layer = L.rmsNorm({ eps: 1e-2 })
    expectVjp((x, w) => run(layer, { weight: w }, {}, x), [randn(4, [3, 4]), randn(5, [4])])
    const two = L.rmsNorm({ axes: 2, eps: 1e-2 })
    expectVjp((x, w) => run(two, { weight: w }, {}, x), [randn(6, [2, 2, 3]), randn(7, [2, 3])])
  })

  it('round-trips its config', () => {
    sameAfterDecode(L.rmsNorm({ axes: 2, eps: 1e-4 }), [3, 4], randn(8, [2, 3, 4]))
    sameAfterDecode(L.rmsNorm({ affine: false }), [5], randn(9, [2, 5]))
  })
})

/** A direct loop over [N, C, ...]: statistics per (example, group of C/G channels), affine per channel. */
const groupNormReference = (
  x: Tensor,
  groups: number,
  eps: number,
  weight?: Tensor,
  bias?: Tensor,
): number[] => {
  const [n, c] = [x.shape[0]!, x.shape[1]!]
  const spatial = x.data.length / (n * c)
  const perGroup = (c / groups) * spatial
  const out = new Array<number>(x.data.length)
  for (let b = 0; b < n; b++)
    for (let g = 0; g < groups; g++) {
      const start = (b * c + (g * c) / groups) * spatial
      let mean = 0
      for (let i = 0; i < perGroup; i++) mean += x.data[start + i]!
      mean /= perGroup
      let variance = 0
      for (let i = 0; i < perGroup; i++) variance += (x.data[start + i]! - mean) ** 2
      variance /= perGroup
      for (let i = 0; i < perGroup; i++) {
        const channel = (g * c) / groups + Math.floor(i / spatial)
        const v = (x.data[start + i]! - mean) / Math.sqrt(variance + eps)
        out[start + i] = v * (weight?.data[channel] ?? 1) + (bias?.data[channel] ?? 0)
      }
    }
  return out
}

describe('groupNorm', () => {
  it('infers per-channel weight and bias; groups that do not divide C are path errors', () => {
    const init = unwrap(L.groupNorm(2).init(key(0), [6, 4, 4]))
    expect(init.params.weight.shape).toEqual([6])
    expect(init.params.bias.shape).toEqual([6])
    expect(init.outShape).toEqual([6, 4, 4])
    const e = leftOf(L.groupNorm(4).init(key(0), [6, 5]))
    expect(e.path).toBe('groupNorm')
    expect(e.message).toContain('[6,5]')
    expect(e.message).toContain('groups (4)')
    expect(leftOf(L.groupNorm(0).init(key(0), [6])).message).toContain('groups')
    expect(leftOf(L.groupNorm(1).init(key(0), [])).message).toContain('rank >= 1')
    expect(() => L.groupNorm(2, { momentum: 1 } as never)).toThrow(/momentum/)
  })

  it('matches a naive loop on [N, C, H, W] and [N, C, L], and on the extremes (1 group, C groups)', () => {
    const x4 = randn(10, [2, 6, 3, 2])
    const w = randn(11, [6])
    const b = randn(12, [6])
    expectClose(
      run(L.groupNorm(3), { weight: w, bias: b }, {}, x4),
      [2, 6, 3, 2],
      groupNormReference(x4, 3, 1e-5, w, b),
    )
    const x3 = randn(13, [3, 4, 5])
    const w3 = randn(19, [4])
    const b3 = randn(20, [4])
    for (const groups of [1, 2, 4])
      expectClose(
        run(L.groupNorm(groups, { eps: 0.1 }), { weight: w3, bias: b3 }, {}, x3),
        [3, 4, 5],
        groupNormReference(x3, groups, 0.1, w3, b3),
      )
    expectClose(
      run(L.groupNorm(2, { affine: false }), {}, {}, x3),
      [3, 4, 5],
      groupNormReference(x3, 2, 1e-5),
    )
  })

  it('has the right gradient w.r.t. input, weight and bias', () => {
    const layer = L.groupNorm(2, { eps: 1e-2 })
    expectVjp(
      (x, w, b) => run(layer, { weight: w, bias: b }, {}, x),
      [randn(14, [2, 4, 3]), randn(15, [4]), randn(16, [4])],
    )
  })

  it('round-trips its config', () => {
    sameAfterDecode(L.groupNorm(2, { eps: 1e-3 }), [4, 3, 3], randn(17, [2, 4, 3, 3]))
    sameAfterDecode(L.groupNorm(3, { affine: false }), [6, 2], randn(18, [2, 6, 2]))
  })
})

/**
 * A direct loop: y[n, o, j] = bias[o] + Σ_c Σ_t x[n, c, j·stride + t·dilation − left] · w[o, c, t]
 * (zero outside [0, L)), for `outLength` outputs.
 */
const conv1dReference = (
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  g: { stride: number; dilation: number; left: number; outLength: number },
): number[] => {
  const [n, c, length] = x.shape as [number, number, number]
  const [o, , k] = w.shape as [number, number, number]
  const out: number[] = []
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let j = 0; j < g.outLength; j++) {
        let sum = bias?.data[oc] ?? 0
        for (let ic = 0; ic < c; ic++)
          for (let t = 0; t < k; t++) {
            const pos = j * g.stride + t * g.dilation - g.left
            if (pos >= 0 && pos < length)
              sum += x.data[(b * c + ic) * length + pos]! * w.data[(oc * c + ic) * k + t]!
          }
        out.push(sum)
      }
  return out
}

describe('conv1d', () => {
  it('infers [outChannels, L′] and a PyTorch-layout weight; bad inputs and geometry are path errors', () => {
    const init = unwrap(L.conv1d(5, 3, { stride: 2, padding: [1, 2], dilation: 2 }).init(key(0), [4, 11]))
    expect(init.params.weight.shape).toEqual([5, 4, 3])
    expect(init.params.bias.shape).toEqual([5])
    // floor((11 + 3 − 2·2 − 1) / 2) + 1 = 5
    expect(init.outShape).toEqual([5, 5])
    expect(unwrap(L.conv1d(2, 3, { padding: 'same' }).init(key(0), [1, 9])).outShape).toEqual([2, 9])
    expect(unwrap(L.conv1d(2, 3, { useBias: false }).init(key(0), [1, 9])).params).not.toHaveProperty('bias')
    const rank = leftOf(L.conv1d(2, 3).init(key(0), [1, 4, 4]))
    expect(rank.path).toBe('conv1d')
    expect(rank.message).toContain('[channels, length]')
    expect(leftOf(L.conv1d(2, 5).init(key(0), [1, 4])).message).toMatch(/larger than the padded input/)
    expect(leftOf(L.conv1d(2, 3, { padding: [1, 2, 3] as never }).init(key(0), [1, 4])).message).toMatch(
      /padding/,
    )
    expect(leftOf(L.conv1d(2, 3, { stride: 0 }).init(key(0), [1, 4])).message).toMatch(/stride/)
    expect(leftOf(L.conv1d(0, 3).init(key(0), [1, 4])).message).toMatch(/outChannels/)
    expect(() => L.conv1d(2, 3, { groups: 2 } as never)).toThrow(/groups/)
  })

  it('matches a naive loop (stride, dilation, asymmetric and same padding, with and without bias)', () => {
    const x = randn(21, [2, 3, 10])
    const w = randn(22, [4, 3, 3])
    const b = randn(23, [4])
    const y = run(L.conv1d(4, 3, { stride: 2, dilation: 2, padding: [2, 1] }), { weight: w, bias: b }, {}, x)
    // floor((10 + 3 − 4 − 1) / 2) + 1 = 5
    expectClose(y, [2, 4, 5], conv1dReference(x, w, b, { stride: 2, dilation: 2, left: 2, outLength: 5 }))
    // 'same' with an odd kernel: one on each side.
    const same = run(L.conv1d(4, 3, { padding: 'same', useBias: false }), { weight: w }, {}, x)
    expectClose(
      same,
      [2, 4, 10],
      conv1dReference(x, w, undefined, { stride: 1, dilation: 1, left: 1, outLength: 10 }),
    )
  })

  it('has the right gradient w.r.t. input, weight and bias', () => {
    const layer = L.conv1d(2, 2, { stride: 2, padding: 1 })
    expectVjp(
      (x, w, b) => run(layer, { weight: w, bias: b }, {}, x),
      [randn(24, [2, 3, 5]), randn(25, [2, 3, 2]), randn(26, [2])],
    )
  })

  it('round-trips its config', () => {
    sameAfterDecode(L.conv1d(3, 2, { stride: 2, padding: [0, 1], dilation: 1 }), [2, 7], randn(27, [2, 2, 7]))
    sameAfterDecode(L.conv1d(2, 3, { padding: 'same', useBias: false }), [2, 6], randn(28, [1, 2, 6]))
  })
})

/**
 * A direct loop for grouped conv2d, PyTorch's definition: output channel o (in group g = o / (O/G))
 * sees input channels g·C/G ... (g+1)·C/G − 1 through w[o, c − g·C/G, ·, ·]; stride 1, symmetric `pad`.
 */
const groupedConvReference = (x: Tensor, w: Tensor, bias: Tensor, groups: number, pad: number): number[] => {
  const [n, c, h, wd] = x.shape as [number, number, number, number]
  const [o, cg, kh, kw] = w.shape as [number, number, number, number]
  const [oh, ow] = [h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1]
  const out: number[] = []
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / (o / groups))
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let sum = bias.data[oc]!
          for (let ci = 0; ci < cg; ci++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const [r, s] = [i + p - pad, j + q - pad]
                if (r < 0 || r >= h || s < 0 || s >= wd) continue
                sum +=
                  x.data[((b * c + g * cg + ci) * h + r) * wd + s]! *
                  w.data[((oc * cg + ci) * kh + p) * kw + q]!
              }
          out.push(sum)
        }
    }
  expect(c).toBe(cg * groups)
  return out
}

describe('conv2d with groups (grouped and depthwise)', () => {
  it('infers a [out, in/groups, kh, kw] weight; groups that do not divide both channel counts are path errors', () => {
    expect(unwrap(L.conv2d(6, 3, { groups: 2 }).init(key(0), [4, 5, 5])).params.weight.shape).toEqual([
      6, 2, 3, 3,
    ])
    const depthwise = unwrap(L.conv2d(8, [3, 2], { groups: 4, padding: 'same' }).init(key(0), [4, 5, 5]))
    expect(depthwise.params.weight.shape).toEqual([8, 1, 3, 2])
    expect(depthwise.outShape).toEqual([8, 5, 5])
    const e = leftOf(L.conv2d(6, 3, { groups: 4 }).init(key(0), [4, 5, 5]))
    expect(e.path).toBe('conv2d')
    expect(e.message).toContain('groups (4)')
    expect(e.message).toContain('[4,5,5]')
    expect(leftOf(L.conv2d(6, 3, { groups: 0 }).init(key(0), [4, 5, 5])).message).toContain('groups')
    // groups = 1 writes no `groups` into the config, so 0.1 configs and new ones stay identical.
    expect(L.conv2d(6, 3).config).not.toHaveProperty('groups')
  })

  it('matches a naive grouped loop for 2 groups and for depthwise (groups = C, channel multiplier 2)', () => {
    const x = randn(41, [2, 4, 5, 4])
    const w = randn(42, [6, 2, 3, 2])
    const b = randn(43, [6])
    expectClose(
      run(L.conv2d(6, [3, 2], { groups: 2, padding: 1 }), { weight: w, bias: b }, {}, x),
      [2, 6, 5, 5],
      groupedConvReference(x, w, b, 2, 1),
    )
    const wd = randn(44, [8, 1, 3, 3])
    const bd = randn(45, [8])
    expectClose(
      run(L.conv2d(8, 3, { groups: 4 }), { weight: wd, bias: bd }, {}, x),
      [2, 8, 3, 2],
      groupedConvReference(x, wd, bd, 4, 0),
    )
  })

  it('runs as one grouped conv2d op (no split of the channels, no concat of per-group results)', () => {
    const layer = L.conv2d(8, 3, { groups: 4, padding: 1 })
    const staged = O.makeGraph((x: Tensor, w: Tensor, b: Tensor) =>
      run(layer, { weight: w, bias: b }, {}, x),
    )(randn(49, [2, 4, 5, 5]), randn(50, [8, 1, 3, 3]), randn(51, [8]))
    const ops = staged.equations.map((e) => e.op.name)
    expect(ops.filter((name) => name === 'conv2d')).toHaveLength(1)
    expect(ops).not.toContain('concat')
    expect(staged.equations.find((e) => e.op.name === 'conv2d')!.params).toMatchObject({ groups: 4 })
  })

  it('has the right gradient w.r.t. input, weight and bias', () => {
    const layer = L.conv2d(4, 2, { groups: 2, stride: [1, 2], padding: 1 })
    expectVjp(
      (x, w, b) => run(layer, { weight: w, bias: b }, {}, x),
      [randn(46, [1, 2, 3, 3]), randn(47, [4, 1, 2, 2]), randn(48, [4])],
    )
  })

  it('round-trips its config', () => {
    sameAfterDecode(L.conv2d(4, 3, { groups: 2, padding: 'same' }), [2, 4, 4], randn(49, [2, 2, 4, 4]))
  })
})

/**
 * A direct scatter loop, PyTorch's definition of ConvTranspose2d: every input pixel (i, j) of channel
 * c adds x[n, c, i, j]·w[c, o, p, q] to output (i·s − pad + p·d, j·s − pad + q·d), when inside the
 * output of size (outH, outW).
 */
const transposeReference = (
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  g: { stride: [number, number]; pad: [number, number]; dilation: [number, number]; out: [number, number] },
): number[] => {
  const [n, c, h, wd] = x.shape as [number, number, number, number]
  const [, o, kh, kw] = w.shape as [number, number, number, number]
  const [oh, ow] = g.out
  const y = new Array<number>(n * o * oh * ow).fill(0)
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let k = 0; k < oh * ow; k++) y[(b * o + oc) * oh * ow + k] = bias?.data[oc] ?? 0
  for (let b = 0; b < n; b++)
    for (let ic = 0; ic < c; ic++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < wd; j++)
          for (let oc = 0; oc < o; oc++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const r = i * g.stride[0] - g.pad[0] + p * g.dilation[0]
                const s = j * g.stride[1] - g.pad[1] + q * g.dilation[1]
                if (r < 0 || r >= oh || s < 0 || s >= ow) continue
                y[((b * o + oc) * oh + r) * ow + s]! +=
                  x.data[((b * c + ic) * h + i) * wd + j]! * w.data[((ic * o + oc) * kh + p) * kw + q]!
              }
  return y
}

describe('conv2dTranspose', () => {
  it("infers PyTorch's output size and a [in, out, kh, kw] weight; bad geometry is a path error", () => {
    const init = unwrap(L.conv2dTranspose(3, 4, { stride: 2, padding: 1 }).init(key(0), [5, 7, 6]))
    expect(init.params.weight.shape).toEqual([5, 3, 4, 4])
    expect(init.params.bias.shape).toEqual([3])
    // (7 − 1)·2 − 2 + 3 + 1 = 14, (6 − 1)·2 − 2 + 3 + 1 = 12
    expect(init.outShape).toEqual([3, 14, 12])
    const odd = L.conv2dTranspose(2, [3, 2], {
      stride: [2, 3],
      padding: [1, 0],
      outputPadding: [1, 2],
      dilation: [2, 1],
    })
    // (4 − 1)·2 − 2 + 2·2 + 1 + 1 = 10, (5 − 1)·3 − 0 + 1 + 2 + 1 = 16
    expect(unwrap(odd.init(key(0), [1, 4, 5])).outShape).toEqual([2, 10, 16])
    const e = leftOf(L.conv2dTranspose(2, 3, { stride: 2, outputPadding: 2 }).init(key(0), [1, 4, 4]))
    expect(e.path).toBe('conv2dTranspose')
    expect(e.message).toMatch(/outputPadding \[2,2\] must be smaller than the stride \[2,2\]/)
    expect(leftOf(L.conv2dTranspose(2, 3).init(key(0), [4, 4])).message).toContain(
      '[channels, height, width]',
    )
    expect(leftOf(L.conv2dTranspose(2, 1, { padding: 1 }).init(key(0), [1, 1, 1])).message).toMatch(
      /output would be/,
    )
    expect(
      leftOf(L.conv2dTranspose(2, 3, { padding: 'same' as never }).init(key(0), [1, 4, 4])).message,
    ).toMatch(/padding must be/)
    expect(() => L.conv2dTranspose(2, 3, { output_padding: 1 } as never)).toThrow(/output_padding/)
  })

  it('matches a naive scatter loop (stride, padding, output padding, dilation, rectangular kernel)', () => {
    const x = randn(51, [2, 3, 4, 3])
    const w = randn(52, [3, 2, 3, 2])
    const b = randn(53, [2])
    const layer = L.conv2dTranspose(2, [3, 2], {
      stride: [2, 3],
      padding: [1, 0],
      outputPadding: [1, 2],
      dilation: [2, 1],
    })
    // (4 − 1)·2 − 2 + 4 + 1 + 1 = 10, (3 − 1)·3 − 0 + 1 + 2 + 1 = 10
    const y = run(layer, { weight: w, bias: b }, {}, x)
    expectClose(
      y,
      [2, 2, 10, 10],
      transposeReference(x, w, b, { stride: [2, 3], pad: [1, 0], dilation: [2, 1], out: [10, 10] }),
    )
    const plain = run(L.conv2dTranspose(2, 2, { useBias: false }), { weight: randn(54, [3, 2, 2, 2]) }, {}, x)
    expectClose(
      plain,
      [2, 2, 5, 4],
      transposeReference(x, randn(54, [3, 2, 2, 2]), undefined, {
        stride: [1, 1],
        pad: [0, 0],
        dilation: [1, 1],
        out: [5, 4],
      }),
    )
  })

  it('has the right gradient w.r.t. input, weight and bias', () => {
    const layer = L.conv2dTranspose(2, 2, { stride: 2, padding: [1, 0], outputPadding: 1 })
    expectVjp(
      (x, w, b) => run(layer, { weight: w, bias: b }, {}, x),
      [randn(55, [1, 2, 3, 2]), randn(56, [2, 2, 2, 2]), randn(57, [2])],
    )
  })

  it('round-trips its config', () => {
    sameAfterDecode(
      L.conv2dTranspose(3, [2, 3], { stride: 2, padding: [0, 1], outputPadding: [1, 0], dilation: [1, 2] }),
      [2, 3, 4],
      randn(58, [2, 2, 3, 4]),
    )
    sameAfterDecode(L.conv2dTranspose(2, 3, { useBias: false }), [1, 2, 2], randn(59, [1, 1, 2, 2]))
  })
})

describe('the new kinds: allocation and staging', () => {
  const cases: ReadonlyArray<readonly [Layer<unknown, unknown>, Shape]> = [
    [L.rmsNorm({ axes: 2 }) as Layer<unknown, unknown>, [3, 4]],
    [L.rmsNorm({ affine: false }) as Layer<unknown, unknown>, [5]],
    [L.groupNorm(2) as Layer<unknown, unknown>, [4, 3, 3]],
    [L.groupNorm(3, { affine: false }) as Layer<unknown, unknown>, [6, 2]],
    [L.conv1d(3, 2, { stride: 2, padding: [0, 1] }) as Layer<unknown, unknown>, [2, 7]],
    [L.conv2d(4, 3, { groups: 2, padding: 1, useBias: false }) as Layer<unknown, unknown>, [2, 5, 5]],
    [L.conv2dTranspose(3, [2, 3], { stride: 2, outputPadding: 1 }) as Layer<unknown, unknown>, [2, 3, 4]],
  ]

  it("each kind's allocation (used to vet checkpoints) is what init allocates, with init's outShape", () => {
    for (const [layer, inShape] of cases) {
      const init = unwrap(layer.init(key(0), inShape))
      const kind = builtinKinds[layer.kind as keyof typeof builtinKinds]
      const allocated = kind.allocation?.(layer.config!, inShape, () => undefined)
      const size = flattenNamed(init.params).reduce((n, [, p]) => n + p.data.length, 0)
      expect(allocated, layer.kind).toEqual({ size, outShape: init.outShape })
    }
  })

  it('each layer gives the same values and gradients under jit as eagerly', () => {
    for (const [layer, inShape] of cases) {
      const { params } = unwrap(layer.init(key(1), inShape))
      const x = T.random.normal(key(2), [2, ...inShape])
      const loss = (p: unknown, input: Tensor): Tensor => O.sum(O.square(run(layer, p, {}, input)))
      const both = O.grad(loss, { argnums: [0, 1] })
      const eager = flattenNamed(both(params, x))
      const staged = flattenNamed(O.jit(both)(params, x))
      expect(eager.length).toBeGreaterThan(0)
      expect(staged.map(([name]) => name)).toEqual(eager.map(([name]) => name))
      eager.forEach(([, a], i) => expectClose(staged[i]![1], a.shape, a.data, 1e-5))
    }
  })
})
