/** Rows of the diagnostic 'selftest' job (see src/main/host/jobs/selftest.ts). */
import type { Json } from '../../../shared/records'
import type { Db } from '../db'
import { toJson } from '../util'

export class SelftestRepo {
  constructor(private readonly db: Db) {}

  /** Writes one step's row and the job's resumable state in ONE transaction. */
  writeStep(jobId: string, step: number, value: number, state: Json): void {
    this.db
      .transaction(() => {
        this.db.prepare('INSERT INTO selftest_steps (job_id, step, value) VALUES (?, ?, ?)').run(jobId, step, value)
        this.db.prepare('UPDATE jobs SET state_json = ? WHERE id = ?').run(toJson(state), jobId)
      })
      .immediate()
  }

  /** Steps written so far, in order. */
  steps(jobId: string): Array<{ step: number; value: number }> {
    return this.db
      .prepare('SELECT step, value FROM selftest_steps WHERE job_id = ? ORDER BY step')
      .all(jobId) as Array<{ step: number; value: number }>
  }
}
