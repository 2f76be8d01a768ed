/** Live status changes of one application (graphql-transport-ws). */
import { graphql } from '../gql'

export const ApplicationUpdatesSubscription = graphql(`
  subscription ApplicationUpdates($id: ID!) {
    applicationUpdates(id: $id) {
      __typename
      ... on ApplicationUpdate { applicationId receiptNo status statusLabel previousStatus version at }
      ... on Error { code message field }
    }
  }
`)
