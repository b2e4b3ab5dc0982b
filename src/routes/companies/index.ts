import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { commonProblems, problems, readSecurity, ref, writeSecurity } from '../../schemas/common.js'
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
      body: ref(CompanyCreate),
      response: {
        201: { ...ref(Company), description: 'The new company.' },
        ...commonProblems,
        401: problems[401],
        403: problems[403],
        409: problems[409],
        413: problems[413],
        415: problems[415]
      }
    }
  }, async (req, reply) => {
    const company = await companies.create(req.body, req.actor)
    reply.code(201).header('location', `/v1/companies/${company.id}`)
    return tagged(reply, company)
  })

  registerVersionedResource(app, {
    name: 'Company',
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
