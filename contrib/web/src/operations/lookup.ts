/** Anonymous result lookup by receipt number and query code (rate limited). */
import { graphql } from '../gql'

export const StatusLookupQuery = graphql(`
  query StatusLookup($receiptNo: String!, $queryCode: String!) {
    applicationStatus(receiptNo: $receiptNo, queryCode: $queryCode) {
      __typename
      ... on StatusLookup { receiptNo status statusLabel childName schoolName updatedAt }
      ... on Error { code message field }
    }
  }
`)
