/** Staff work list: applications in the caller's scope, filtered, by cursor. */
import { graphql } from '../gql'

export const WorkListQuery = graphql(`
  query WorkList($filter: ApplicationFilterInput, $first: Int!, $after: String) {
    applications(filter: $filter, first: $first, after: $after) {
      __typename
      ... on ApplicationConnection {
        edges {
          cursor
          node { id receiptNo status statusLabel channel childName townshipCode schoolName updatedAt }
        }
        pageInfo { hasNextPage endCursor }
      }
      ... on Error { code message field }
    }
  }
`)
