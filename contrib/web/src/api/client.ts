/**
 * One urql client per realm. Queries and mutations go over HTTP (file variables become a
 * GraphQL multipart request, with the CSRF preflight header the gateway asks for);
 * subscriptions go over graphql-ws (the graphql-transport-ws protocol) on the same path.
 */
import { Client, fetchExchange, subscriptionExchange, type AnyVariables, type TypedDocumentNode } from '@urql/core'
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws'
import { tokens, type Realm } from './session'

export const GRAPHQL_PATH = '/graphql'

function wsUrl(): string {
  const { protocol, host } = window.location
  return `${protocol === 'https:' ? 'wss:' : 'ws:'}//${host}${GRAPHQL_PATH}`
}

function makeClient(realm: Realm): Client {
  let ws: WsClient | null = null
  const socket = (): WsClient => {
    ws ??= createWsClient({
      url: wsUrl(),
      lazy: true,
      connectionParams: () => {
        const token = tokens[realm].value
        return token ? { Authorization: `Bearer ${token}` } : {}
      },
    })
    return ws
  }
  return new Client({
    url: GRAPHQL_PATH,
    requestPolicy: 'network-only',
    preferGetMethod: false,
    fetchOptions: () => {
      const token = tokens[realm].value
      const headers: Record<string, string> = { 'Apollo-Require-Preflight': 'true' }
      if (token) headers.Authorization = `Bearer ${token}`
      return { headers }
    },
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' }
          return {
            subscribe(sink) {
              const dispose = socket().subscribe(input, sink)
              return { unsubscribe: dispose }
            },
          }
        },
      }),
    ],
  })
}

export const clients: Record<Realm, Client> = {
  guardian: makeClient('guardian'),
  staff: makeClient('staff'),
}

/** A failure the API did not type: the network, or a document the server refused. */
export class ApiFailure extends Error {}

/** Run a query and return its data, or throw ApiFailure. */
export async function query<D, V extends AnyVariables>(
  realm: Realm,
  document: TypedDocumentNode<D, V>,
  variables: V,
): Promise<D> {
  const result = await clients[realm].query(document, variables).toPromise()
  if (result.error || !result.data) throw new ApiFailure(failureText(result.error?.message))
  return result.data
}

/** Run a mutation and return its data, or throw ApiFailure. */
export async function mutate<D, V extends AnyVariables>(
  realm: Realm,
  document: TypedDocumentNode<D, V>,
  variables: V,
): Promise<D> {
  const result = await clients[realm].mutation(document, variables).toPromise()
  if (result.error || !result.data) throw new ApiFailure(failureText(result.error?.message))
  return result.data
}

function failureText(message: string | undefined): string {
  return message ? `服务暂时不可用，请稍后再试（${message}）` : '服务暂时不可用，请稍后再试'
}
