import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { convertLayersModel, ExportError, type ConvertOptions } from '../../../../src/main/engine/export/onnx/convert'
import { decodeModel, encodeModel, OPSET_VERSION } from '../../../../src/main/engine/export/onnx/model'
import { permute, samePadding } from '../../../../src/main/engine/export/onnx/layout'
import { maxAbsDiff, randomizeWeights, runOnnx, uniform } from './helpers'

type Sym = tf.SymbolicTensor
const L = tf.layers

beforeAll(async () => {
  await tf.setBackend('cpu')
})

function functional(shape: number[], body: (x: Sym) => Sym): tf.LayersModel {
  const input = tf.input({ shape })
  return tf.model({ inputs: input, outputs: body(input) })
}

/** Exports `model`, runs it in onnxruntime and returns the largest difference from TF.js. */
async function compare(
  model: tf.LayersModel,
  seed: number,
  options: ConvertOptions = {},
  post?: (t: tf.Tensor) => tf.Tensor
) {
  randomizeWeights(model, seed)
  const shape = [2, ...(model.inputs[0].shape.slice(1) as number[])]
  const input = uniform(
    shape.reduce((a, b) => a * b),
    seed + 1000
  )
  const bytes = encodeModel(convertLayersModel(model, options), {}, { name: 'test', version: '0' })
  const onnx = await runOnnx(bytes, input, shape)
  const expected = tf.tidy(() => {
    const y = model.predict(tf.tensor(input, shape)) as tf.Tensor
    return (post ? post(y) : y).dataSync() as Float32Array
  })
  expect(onnx.data.length).toBe(expected.length)
  const diff = maxAbsDiff(onnx.data, expected)
  // Guard against a comparison of two constant outputs passing trivially.
  expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-3)
  return diff
}

describe('layout helpers', () => {
  it('computes TF same padding with the odd pixel at the end', () => {
    expect(samePadding(5, 3, 2)).toEqual([1, 1])
    expect(samePadding(6, 3, 2)).toEqual([0, 1])
    expect(samePadding(4, 2, 2)).toEqual([0, 0])
    expect(samePadding(7, 4, 1)).toEqual([1, 2])
    expect(samePadding(7, 3, 1, 2)).toEqual([2, 2])
  })
  it('permutes like tf.transpose', () => {
    const data = uniform(2 * 3 * 4 * 5, 7)
    for (const perm of [
      [3, 2, 0, 1],
      [2, 3, 0, 1],
      [0, 1, 2, 3],
      [1, 0, 3, 2]
    ]) {
      const expected = tf.tidy(() => tf.transpose(tf.tensor(data, [2, 3, 4, 5]), perm).dataSync())
      expect(Array.from(permute(data, [2, 3, 4, 5], perm))).toEqual(Array.from(expected))
    }
  })
})

describe('ONNX export of each layer kind matches TF.js in onnxruntime', () => {
  const cases: [string, () => tf.LayersModel][] = [
    [
      'conv2d same stride 1 + relu',
      () =>
        functional(
          [7, 7, 3],
          (x) => L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as Sym
        )
    ],
    [
      'conv2d same stride 2 even input (asymmetric pads)',
      () =>
        functional(
          [8, 6, 2],
          (x) => L.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }).apply(x) as Sym
        )
    ],
    [
      'conv2d same stride 2 odd input, kernel 4',
      () =>
        functional(
          [9, 7, 2],
          (x) => L.conv2d({ filters: 3, kernelSize: 4, strides: 2, padding: 'same' }).apply(x) as Sym
        )
    ],
    [
      'conv2d valid strided, no bias, rectangular kernel',
      () =>
        functional(
          [9, 8, 3],
          (x) =>
            L.conv2d({ filters: 5, kernelSize: [3, 2], strides: [2, 1], padding: 'valid', useBias: false }).apply(
              x
            ) as Sym
        )
    ],
    [
      'conv2d dilated same',
      () =>
        functional(
          [9, 9, 2],
          (x) => L.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same' }).apply(x) as Sym
        )
    ],
    [
      'depthwise conv2d same stride 2, relu6',
      () =>
        functional(
          [8, 8, 4],
          (x) => L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }).apply(x) as Sym
        )
    ],
    [
      'depthwise conv2d depth multiplier 2 valid',
      () =>
        functional(
          [7, 7, 3],
          (x) => L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, useBias: false }).apply(x) as Sym
        )
    ],
    [
      'separable conv2d',
      () =>
        functional(
          [7, 7, 3],
          (x) => L.separableConv2d({ filters: 4, kernelSize: 3, padding: 'same', depthMultiplier: 2 }).apply(x) as Sym
        )
    ],
    [
      'conv + batchnorm + relu',
      () =>
        functional(
          [6, 6, 3],
          (x) =>
            L.reLU().apply(
              L.batchNormalization().apply(
                L.conv2d({ filters: 4, kernelSize: 3, useBias: false, padding: 'same' }).apply(x)
              )
            ) as Sym
        )
    ],
    [
      'batchnorm without center and scale, eps 0.1',
      () =>
        functional(
          [5, 5, 3],
          (x) => L.batchNormalization({ center: false, scale: false, epsilon: 0.1 }).apply(x) as Sym
        )
    ],
    [
      'ReLU(maxValue 6), LeakyReLU, ELU layers',
      () =>
        functional(
          [5, 5, 2],
          (x) =>
            L.elu().apply(
              L.leakyReLU({ alpha: 0.2 }).apply(
                L.reLU({ maxValue: 6 }).apply(L.conv2d({ filters: 3, kernelSize: 1 }).apply(x))
              )
            ) as Sym
        )
    ],
    [
      'max pooling same, odd size',
      () => functional([7, 5, 2], (x) => L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as Sym)
    ],
    ['max pooling valid default', () => functional([7, 6, 2], (x) => L.maxPooling2d({ poolSize: 2 }).apply(x) as Sym)],
    [
      'average pooling same excludes padding',
      () =>
        functional([7, 5, 2], (x) => L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as Sym)
    ],
    [
      'average pooling valid',
      () => functional([6, 6, 2], (x) => L.averagePooling2d({ poolSize: 2, strides: 2 }).apply(x) as Sym)
    ],
    [
      'global average pooling + dense softmax',
      () =>
        functional(
          [5, 5, 3],
          (x) => L.dense({ units: 4, activation: 'softmax' }).apply(L.globalAveragePooling2d({}).apply(x)) as Sym
        )
    ],
    [
      'global max pooling + dense sigmoid',
      () =>
        functional(
          [5, 5, 3],
          (x) => L.dense({ units: 4, activation: 'sigmoid' }).apply(L.globalMaxPooling2d({}).apply(x)) as Sym
        )
    ],
    [
      'flatten keeps channels-last order + dense without bias',
      () => functional([3, 4, 2], (x) => L.dense({ units: 3, useBias: false }).apply(L.flatten().apply(x)) as Sym)
    ],
    [
      'zero padding asymmetric',
      () =>
        functional(
          [4, 5, 2],
          (x) =>
            L.zeroPadding2d({
              padding: [
                [1, 2],
                [0, 3]
              ]
            }).apply(x) as Sym
        )
    ],
    [
      'dropout is identity',
      () =>
        functional(
          [4, 4, 2],
          (x) => L.conv2d({ filters: 2, kernelSize: 1 }).apply(L.dropout({ rate: 0.5 }).apply(x)) as Sym
        )
    ],
    [
      'residual add, concatenate, multiply',
      () =>
        functional([6, 6, 3], (x) => {
          const a = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x) as Sym
          const sum = L.add().apply([a, x]) as Sym
          const cat = L.concatenate().apply([sum, a]) as Sym
          return L.multiply().apply([cat, cat]) as Sym
        })
    ],
    [
      'activation layers',
      () =>
        functional([3, 3, 2], (x) => {
          let y = x
          for (const a of [
            'tanh',
            'elu',
            'selu',
            'softplus',
            'softsign',
            'swish',
            'hardSigmoid',
            'sigmoid',
            'relu',
            'relu6',
            'linear'
          ] as const) {
            y = L.activation({ activation: a }).apply(L.conv2d({ filters: 2, kernelSize: 1 }).apply(y)) as Sym
          }
          return y
        })
    ],
    [
      'softmax layer on channels and rescaling',
      () =>
        functional(
          [3, 3, 4],
          (x) => L.softmax({ axis: -1 }).apply(L.rescaling({ scale: 2, offset: -0.5 }).apply(x)) as Sym
        )
    ]
  ]
  cases.forEach(([name, make], i) => {
    it(name, async () => {
      const model = make()
      expect(await compare(model, 100 + i)).toBeLessThanOrEqual(1e-5)
      model.dispose()
    })
  })

  it('a sequential model', async () => {
    const model = tf.sequential({
      layers: [
        L.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
        L.flatten(),
        L.dense({ units: 3, activation: 'softmax' })
      ]
    })
    expect(await compare(model, 7)).toBeLessThanOrEqual(1e-5)
  })

  it('a nested backbone inside a functional model', async () => {
    const backbone = functional(
      [6, 6, 3],
      (x) =>
        L.globalAveragePooling2d({}).apply(
          L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x)
        ) as Sym
    )
    const model = functional(
      [6, 6, 3],
      (x) => L.dense({ units: 2, activation: 'softmax' }).apply(backbone.apply(x)) as Sym
    )
    expect(await compare(model, 8)).toBeLessThanOrEqual(1e-5)
  })

  it('appends softmax to a model that ends in logits when asked', async () => {
    const model = functional([4, 4, 2], (x) => L.dense({ units: 3 }).apply(L.flatten().apply(x)) as Sym)
    expect(await compare(model, 9, { outputActivation: 'softmax' }, (y) => tf.softmax(y))).toBeLessThanOrEqual(1e-5)
  })
})

describe('ONNX file structure', () => {
  it('declares opset 13, named NHWC input and the output, and weights by layer', () => {
    const model = functional(
      [5, 5, 3],
      (x) =>
        L.dense({ units: 2, activation: 'softmax', name: 'head' }).apply(
          L.globalAveragePooling2d({}).apply(L.conv2d({ filters: 4, kernelSize: 3, name: 'stem' }).apply(x))
        ) as Sym
    )
    const before = tf.memory().numTensors
    const graph = convertLayersModel(model)
    expect(tf.memory().numTensors).toBe(before)
    expect(graph.input).toEqual({ name: 'image', shape: [5, 5, 3] })
    expect(graph.output).toEqual({ name: 'probabilities', shape: [2] })
    expect(graph.weights).toEqual({
      'stem/kernel': { initializer: 'stem/kernel', layout: 'conv' },
      'stem/bias': { initializer: 'stem/bias', layout: 'same' },
      'head/kernel': { initializer: 'head/kernel', layout: 'same' },
      'head/bias': { initializer: 'head/bias', layout: 'same' }
    })
    const decoded = decodeModel(encodeModel(graph, { a: 'b' }, { name: 'p', version: '1' }))
    expect(decoded.opsets).toEqual([{ domain: '', version: OPSET_VERSION }])
    expect(decoded.inputs).toEqual(['image'])
    expect(decoded.outputs).toEqual(['probabilities'])
    expect(decoded.metadata).toEqual({ a: 'b' })
    expect(decoded.initializers.get('stem/kernel')?.dims).toEqual([4, 3, 3, 3])
  })
})

describe('unsupported models are refused with the layer named', () => {
  it('an unknown layer class', () => {
    const model = functional([4, 4, 2], (x) => L.upSampling2d({ size: [2, 2], name: 'grow' }).apply(x) as Sym)
    expect(() => convertLayersModel(model)).toThrow(ExportError)
    expect(() => convertLayersModel(model)).toThrow(/layer "grow" \(UpSampling2D\).*no converter/)
  })
  it('an unsupported activation inside a layer', () => {
    const model = functional(
      [4, 4, 2],
      (x) => L.conv2d({ filters: 2, kernelSize: 1, activation: 'mish', name: 'c1' }).apply(x) as Sym
    )
    expect(() => convertLayersModel(model)).toThrow(/layer "c1" \(Conv2D\).*activation "mish"/)
  })
  it('Dense on an image tensor', () => {
    const model = functional([4, 4, 2], (x) => L.dense({ units: 2, name: 'd' }).apply(x) as Sym)
    expect(() => convertLayersModel(model)).toThrow(/layer "d" \(Dense\).*flat/)
  })
})
