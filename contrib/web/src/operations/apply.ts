/** The guardian's application (报名). Drafts over several visits wait for startApplication/updateApplication. */
import { graphql } from '../gql'

export const SubmitApplicationMutation = graphql(`
  mutation SubmitApplication($input: SubmitApplicationInput!) {
    submitApplication(input: $input) {
      __typename
      ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status version }
      ... on Error { code message field }
    }
  }
`)
