/** Typed refusals: every error type of the API implements the `Error` interface. */
import type { ErrorCode } from '../gql/graphql'

export interface ApiError {
  __typename: string
  code: ErrorCode
  message: string
  field?: string | null
}

/** Whether a union member is one of the API's typed errors. */
export function isApiError(value: { __typename?: string } | null | undefined): value is ApiError {
  return !!value && typeof (value as Partial<ApiError>).code === 'string' && 'message' in value
}

/** Errors keyed by the input field they name (`child.idNumber`…); '' for the form as a whole. */
export function byField(error: ApiError): Record<string, string> {
  return { [error.field ?? '']: error.message }
}
