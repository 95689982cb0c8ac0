export * from './length.js';
export * from './encoder.js';
export * from './decoder.js';
export * from './sentence.js';
export * from './login.js';
export * from './replies.js';
export * from './write-batch.js';
export * from './code-pages.js';
