import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import type { SecurityReport } from '../domain/security-report.ts';
import type { MessageSection } from '../notifications/message-content.ts';
import { securityReportSections, securityReportSubject } from '../notifications/security-report-content.ts';
import { latestSecurityReport } from '../repositories/security-report-repository.ts';

export interface LatestSecurityReport {
  /** The end of the week reported (the job's occurrence). */
  occurrence: Date;
  madeAt: Date;
  /** The channels it was sent to. */
  channels: string[];
  /** The headline and text the channels got. */
  subject: string;
  sections: MessageSection[];
  report: SecurityReport;
}

/** `GET /admin/security-report`: the latest weekly security report, as the `security-report` job made and sent it. */
export class SecurityReportService {
  constructor(private readonly deps: { pool: pg.Pool }) {}

  /** The latest report; `404 not_found` before the job has made one. */
  async latest(): Promise<LatestSecurityReport> {
    const stored = await latestSecurityReport(this.deps.pool);
    if (!stored) throw new Clawd402Error('not_found', 'No security report has been made yet.');
    return {
      ...stored,
      subject: securityReportSubject(stored.report),
      sections: securityReportSections(stored.report),
    };
  }
}
