import { sql } from 'drizzle-orm'
import { queryRows, type Db } from '../db/client.js'
import { companies, companyNames } from '../db/schema.js'
import { isValidLei } from '../domain/lei.js'
import { MATCH_THRESHOLD, type MatchRequest, type MatchResult } from '../schemas/insight.js'

const WIKIDATA_ID = /^Q[1-9][0-9]*$/
const COUNTRY_MISMATCH_FACTOR = 0.8
const MAX_CANDIDATES = 10

type MatchedOn = 'name' | 'alias' | 'lei' | 'wikidata_id'
interface CandidateRow { ord: number, company_id: string, company_name: string, score: number, matched_on: MatchedOn }

export function createCompanyMatchService ({ db }: { db: Db }) {
  return {
    /** Ranked candidates for each name, by identifier or by name similarity; see MatchResult for the scoring. */
    async match (request: MatchRequest): Promise<MatchResult> {
      const inputs = request.names.map((n, i) => ({
        ord: i,
        name: n.name.trim(),
        country: n.country?.toUpperCase() ?? null,
        lei: isValidLei(n.name.trim().toUpperCase()) ? n.name.trim().toUpperCase() : null,
        wikidata: WIKIDATA_ID.test(n.name.trim()) ? n.name.trim() : null
      }))
      const rows = await db.transaction(async (tx) => {
        // A candidate scores at most its similarity, so the index scan can stop at the threshold.
        await tx.execute(sql.raw(`SET LOCAL pg_trgm.similarity_threshold = ${MATCH_THRESHOLD}`))
        return queryRows<CandidateRow>(tx, sql`
        WITH input AS (
          -- The LIMIT tells the planner how many names there are (it guesses 100 for a function): with that guess it
          -- read every company to join a few candidates.
          SELECT * FROM jsonb_to_recordset(${JSON.stringify(inputs)}::jsonb)
            AS i(ord int, name text, country text, lei text, wikidata text) LIMIT ${inputs.length}
        ),
        by_name AS (
          SELECT DISTINCT ON (i.ord, n.company_id) i.ord, n.company_id, similarity(n.key, name_key(i.name)) AS similarity,
            n.kind AS matched_on
          FROM input i JOIN ${companyNames} n ON n.key % name_key(i.name)
          ORDER BY i.ord, n.company_id, similarity(n.key, name_key(i.name)) DESC, n.position
        ),
        -- One join per identifier, each on its index of live companies: joined on either one (OR), every company was read.
        by_id AS (
          SELECT i.ord, c.id AS company_id, 1::real AS similarity, 'lei' AS matched_on
          FROM input i JOIN ${companies} c ON c.lei = i.lei AND c.deleted_at IS NULL
          UNION ALL
          SELECT i.ord, c.id AS company_id, 1::real AS similarity, 'wikidata_id' AS matched_on
          FROM input i JOIN ${companies} c ON c.wikidata_id = i.wikidata AND c.deleted_at IS NULL
        ),
        scored AS (
          SELECT m.ord, c.id AS company_id, c.name AS company_name, m.matched_on,
            (m.similarity * CASE WHEN m.matched_on IN ('name', 'alias') AND i.country IS NOT NULL AND c.country IS NOT NULL AND c.country <> i.country
              THEN ${COUNTRY_MISMATCH_FACTOR}::real ELSE 1 END)::real AS score
          FROM (SELECT * FROM by_id UNION ALL SELECT * FROM by_name) m
          JOIN input i ON i.ord = m.ord
          JOIN ${companies} c ON c.id = m.company_id AND c.deleted_at IS NULL
        ),
        best AS (
          SELECT DISTINCT ON (ord, company_id) * FROM scored ORDER BY ord, company_id, score DESC
        ),
        ranked AS (
          SELECT *, row_number() OVER (PARTITION BY ord ORDER BY score DESC, company_name, company_id) AS rank
          FROM best WHERE score >= ${MATCH_THRESHOLD}::real
        )
        SELECT ord, company_id, company_name, score, matched_on FROM ranked WHERE rank <= ${MAX_CANDIDATES}
        ORDER BY ord, rank`)
      })
      return {
        data: inputs.map((input) => ({
          name: input.name,
          candidates: rows.filter((r) => r.ord === input.ord).map((r) => ({
            company: { id: r.company_id, name: r.company_name },
            score: Math.round(Number(r.score) * 1000) / 1000,
            matched_on: r.matched_on
          }))
        }))
      }
    }
  }
}
export type CompanyMatchService = ReturnType<typeof createCompanyMatchService>
