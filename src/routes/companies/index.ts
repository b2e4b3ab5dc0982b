import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParams, NoQuery, commonProblems, createProblems, problems, readSecurity, ref, writeSecurity } from '../../schemas/common.js'
import { MatchRequest, MatchResult, Timeline } from '../../schemas/insight.js'
import { Company, CompanyCreate, CompanyList, CompanyListQuery, CompanyUpdate } from '../../schemas/companies.js'
import { tagged } from '../conditional.js'
import { registerVersionedResource } from '../versioned-resource.js'

const tags = ['companies']

const companiesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { companies } = app.services

  app.get('', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'listCompanies',
      summary: 'List companies',
      description: 'Live companies, keyset-paginated; `q` matches part of a name or alias, ignoring case and accents.',
      tags,
      querystring: CompanyListQuery,
      response: { 200: CompanyList, ...commonProblems }
    }
  }, async (req) => companies.list(req.query))

  app.post('', {
    config: { scope: 'write' },
    schema: {
      operationId: 'createCompany',
      summary: 'Create a company',
      description: 'Creates a company; answers with it and its `Location`.',
      tags,
      security: writeSecurity,
      querystring: NoQuery,
      body: ref(CompanyCreate),
      response: {
        201: { ...ref(Company), description: 'The new company.' },
        ...createProblems
      }
    }
  }, async (req, reply) => {
    const company = await companies.create(req.body, req.actor)
    reply.code(201).header('location', `/v1/companies/${company.id}`)
    return tagged(reply, company)
  })

  app.post('/match', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'matchCompanies',
      summary: 'Match names to companies',
      description: 'Reconciles up to 100 names (or LEIs, or Wikidata ids), each optionally with a country, with the companies ' +
        'here: ranked candidates with a score and what matched. It reads only, so a `read` key is enough when keys are required.',
      tags,
      querystring: NoQuery,
      body: ref(MatchRequest),
      response: { 200: MatchResult, ...commonProblems, 413: problems[413], 415: problems[415] }
    }
  }, async (req) => app.services.companyMatch.match(req.body))

  app.get('/:id/timeline', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'getCompanyTimeline',
      summary: "A company's timeline",
      description: "The company's live events per region in date order, with the posture intervals they imply per service.",
      tags,
      params: IdParams,
      querystring: NoQuery,
      response: { 200: Timeline, ...commonProblems, 404: problems[404] }
    }
  }, async (req) => app.services.postures.timeline(req.params.id))

  registerVersionedResource(app, {
    name: 'Company',
    resourceType: 'company',
    noun: 'company',
    article: 'a',
    tags,
    schema: Company,
    updateSchema: CompanyUpdate,
    deleteDescription: 'Soft delete: the company disappears from reads; a repeat answers 404. A company that still has events cannot be deleted (409).',
    deleteConflicts: true,
    service: companies
  })
}
export default companiesRoutes
