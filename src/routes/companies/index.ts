import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ConditionalGetHeaders, ConditionalWriteHeaders, IdParams, commonProblems, mergePatchBody, problems, readSecurity, ref, writeSecurity } from '../../schemas/common.js'
import { Company, CompanyCreate, CompanyList, CompanyListQuery, CompanyUpdate } from '../../schemas/companies.js'
import { noContent, notModified, tagged, withEtag } from '../conditional.js'

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
        ...commonProblems, 401: problems[401], 403: problems[403], 409: problems[409], 413: problems[413], 415: problems[415]
      }
    }
  }, async (req, reply) => {
    const company = await companies.create(req.body, req.actor)
    reply.code(201).header('location', `/v1/companies/${company.id}`)
    return tagged(reply, company)
  })

  app.get('/:id', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'getCompany',
      summary: 'Get a company',
      description: 'One live company, with its ETag.',
      tags,
      params: IdParams,
      headers: ConditionalGetHeaders,
      response: { 200: { ...ref(Company), description: 'The company.' }, 304: notModified, ...commonProblems, 404: problems[404] }
    }
  }, async (req, reply) => withEtag(req, reply, await companies.get(req.params.id)))

  app.patch('/:id', {
    config: { scope: 'write' },
    schema: {
      operationId: 'updateCompany',
      summary: 'Update a company',
      description: 'JSON Merge Patch (RFC 7396), as `application/merge-patch+json` or `application/json`. ' +
        'A patch that changes nothing keeps the version.',
      tags,
      security: writeSecurity,
      params: IdParams,
      headers: ConditionalWriteHeaders,
      body: mergePatchBody(ref(CompanyUpdate)),
      response: {
        200: { ...ref(Company), description: 'The company after the change.' },
        ...commonProblems, 401: problems[401], 403: problems[403], 404: problems[404], 409: problems[409], 412: problems[412], 413: problems[413], 415: problems[415]
      }
    }
  }, async (req, reply) => tagged(reply, await companies.update(req.params.id, req.body as CompanyUpdate, req.headers['if-match'], req.actor)))

  app.delete('/:id', {
    config: { scope: 'write' },
    schema: {
      operationId: 'deleteCompany',
      summary: 'Delete a company',
      description: 'Soft delete: the company disappears from reads. A company that still has events cannot be deleted (409).',
      tags,
      security: writeSecurity,
      params: IdParams,
      headers: ConditionalWriteHeaders,
      response: {
        204: noContent, ...commonProblems, 401: problems[401], 403: problems[403], 404: problems[404], 409: problems[409], 412: problems[412]
      }
    }
  }, async (req, reply) => {
    await companies.remove(req.params.id, req.headers['if-match'], req.actor)
    reply.code(204)
  })
}
export default companiesRoutes
