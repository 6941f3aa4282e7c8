import { defineConfig, packageConfig } from '../../tsup.base'

export default defineConfig(
  packageConfig(new URL('./package.json', import.meta.url), { index: 'src/index.ts', onnx: 'src/onnx.ts' }),
)
