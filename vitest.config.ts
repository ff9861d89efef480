import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// vitest 5 prints failed tests with Map.groupBy (Node >= 21); the build machines run
// Node 20.20, where the reporter would crash and hide the failure. Polyfill it here,
// in the main vitest process that loads this file.
const mapWithGroupBy = Map as unknown as { groupBy?: unknown }
if (typeof mapWithGroupBy.groupBy !== 'function') {
  mapWithGroupBy.groupBy = <K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, V[]> => {
    const groups = new Map<K, V[]>()
    let i = 0
    for (const item of items) {
      const k = key(item, i++)
      const group = groups.get(k)
      if (group) group.push(item)
      else groups.set(k, [item])
    }
    return groups
  }
}

/**
 * The three test projects (docs/TESTING.md). A test file belongs to exactly one:
 * - e2e: Chromium, the renderer through the bridge, packaging; everything under test/e2e/.
 * - integration: engine jobs, worker or child processes, the CLI, network ports, shared data,
 *   Debian tools, Python/PyTorch/onnxruntime references, Slurm; the files listed here.
 * - unit: every other test file: in-process and fast (test/unit-guard.ts makes a child
 *   process, a worker thread or a listening socket throw, and fails a file over its time budget).
 * test/shared/test-projects.test.ts checks that each file lands in exactly one project.
 */
export const E2E = ['test/e2e/**/*.test.ts']
export const INTEGRATION = [
  'test/main/bridge/**/*.test.ts',
  'test/main/reliability/**/*.test.ts',
  'test/main/commands/cli.test.ts',
  'test/main/commands/export-cli.test.ts',
  'test/main/commands/fission-cli.test.ts',
  'test/main/commands/fuse-cli.test.ts',
  'test/main/commands/import-cli.test.ts',
  'test/main/commands/merge-cli.test.ts',
  'test/main/commands/messages.test.ts',
  'test/main/commands/pretrained-cli.test.ts',
  'test/main/pipeline/demo.test.ts',
  'test/main/pipeline/pipeline-data.test.ts',
  'test/main/main-process-graph.test.ts',
  'test/main/ipc.test.ts',
  'test/main/self-check.test.ts',
  'test/main/host/analysis.test.ts',
  'test/main/host/backend.test.ts',
  'test/main/host/jobs.test.ts',
  'test/main/host/plane-job.test.ts',
  'test/main/engine/compute/bench.test.ts',
  'test/main/engine/compute/bench_arch.test.ts',
  'test/main/engine/compute/kernels.test.ts',
  'test/main/engine/compute/wasm_threads.test.ts',
  'test/main/engine/data/bad-input.test.ts',
  'test/main/engine/data/dicom-codecs.test.ts',
  'test/main/engine/data/dicom-pydicom-files.test.ts',
  'test/main/engine/data/npy.test.ts',
  'test/main/engine/fission/pool.test.ts',
  'test/main/engine/fission/vit-options.test.ts',
  'test/main/engine/data/dicom.test.ts',
  'test/main/engine/data/idx.test.ts',
  'test/main/engine/data/image.test.ts',
  'test/main/engine/data/import-size.test.ts',
  'test/main/engine/data/manifest.test.ts',
  'test/main/engine/data/medmnist.test.ts',
  'test/main/engine/data/registry.test.ts',
  'test/main/engine/evaluate/curves.test.ts',
  'test/main/engine/export/deploy.test.ts',
  'test/main/engine/export/export.test.ts',
  'test/main/engine/export/architectures.test.ts',
  'test/main/engine/export/onnx.test.ts',
  'test/main/engine/fission/kill.test.ts',
  'test/main/engine/fission/plans.test.ts',
  'test/main/engine/fission/slurm-script.test.ts',
  'test/main/engine/fission/slurm.test.ts',
  'test/main/engine/fusion/merges.test.ts',
  'test/main/engine/fusion/lmc-plane.test.ts',
  'test/main/engine/fusion/run.test.ts',
  'test/main/engine/models/architectures.test.ts',
  'test/main/engine/models/memory.test.ts',
  'test/main/engine/models/pretrained.test.ts',
  'test/main/engine/models/vit-bench.test.ts',
  'test/main/engine/models/vit-fusion.test.ts',
  'test/main/engine/models/vit-import.test.ts',
  'test/main/engine/models/vit.test.ts'
]

export default defineConfig({
  plugins: [vue()],
  test: {
    // No include here: the projects inherit this block (extends: true) and arrays would merge.
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...E2E, ...INTEGRATION],
          setupFiles: ['test/unit-guard.ts']
        }
      },
      { extends: true, test: { name: 'integration', include: INTEGRATION } },
      { extends: true, test: { name: 'e2e', include: E2E } }
    ]
  }
})
