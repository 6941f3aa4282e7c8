export * from './safetensors'
