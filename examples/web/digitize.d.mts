// Types of digitize.mjs, for the TypeScript test that imports it (test/web-digitize.test.ts).
export declare const CELLS: 8
export declare const digitize: (ink: ArrayLike<number>, width: number, height: number) => number[] | undefined
export declare const render: (values: ArrayLike<number>, cell: number) => Float32Array
