// The ONNX schema comes from onnx-proto (protobufjs-generated from ONNX v1.10.2, IR version 8);
// every field written here exists in that schema. It is CommonJS, hence the default import.
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type ModelProto = onnxProto.onnx.IModelProto;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

/** A dimension: a size, a symbolic name for a dynamic axis, or '' for a size not known at export. */
export type Dim = number | string;

/** An attribute value, tagged with its ONNX type (1e-5 and 1 alone do not say float or int). */
export type AttributeValue =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'string'; value: string };

export const attr = {
  int: (value: number): AttributeValue => ({ type: 'int', value }),
  float: (value: number): AttributeValue => ({ type: 'float', value }),
  ints: (value: readonly number[]): AttributeValue => ({ type: 'ints', value }),
  floats: (value: readonly number[]): AttributeValue => ({ type: 'floats', value }),
  string: (value: string): AttributeValue => ({ type: 'string', value }),
};

export function attributeProto(name: string, value: AttributeValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (value.type) {
    case 'int':
      return { name, type: T.INT, i: value.value };
    case 'float':
      return { name, type: T.FLOAT, f: value.value };
    case 'ints':
      return { name, type: T.INTS, ints: [...value.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...value.value] };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(value.value) };
  }
}

/** A float32 or int64 initializer, little-endian raw data as the spec requires. */
export function tensorProto(name: string, dims: readonly number[], values: ArrayLike<number>, dtype: 'float32' | 'int64'): TensorProto {
  const width = dtype === 'float32' ? 4 : 8;
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'float32') view.setFloat32(i * 4, values[i]!, true);
    else view.setBigInt64(i * 8, BigInt(values[i]!), true);
  }
  return { name, dims: [...dims], dataType: dtype === 'float32' ? FLOAT : INT64, rawData: bytes };
}

export function valueInfoProto(name: string, shape: readonly Dim[], dtype: 'float32' | 'int64' = 'float32'): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: dtype === 'float32' ? FLOAT : INT64,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d === '' ? {} : { dimParam: d })) },
      },
    },
  };
}

export function encodeModel(model: ModelProto): Uint8Array {
  // protobufjs hands back a Buffer in Node (a view into a shared pool): copy into a plain Uint8Array.
  return new Uint8Array(onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish());
}
