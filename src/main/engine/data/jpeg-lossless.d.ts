// The package ships no type declarations; only the decoder entry used by dicom.ts is declared.
declare module 'jpeg-lossless-decoder-js' {
  /** JPEG lossless (ITU T.81 process 14) decoder. */
  export class Decoder {
    /** Decodes one JPEG lossless stream; 8-bit samples as Uint8Array, wider as Uint16Array. */
    decode(buffer: ArrayBuffer, offset: number, length: number): Uint8Array | Uint16Array
  }
}
