export * from './safetensors'
export * from './directory'
