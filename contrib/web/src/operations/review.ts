/** Staff decisions on one application: review, counter paper seen, its SMS (manual verification and enrollment: counter.ts). */
import { graphql } from '../gql'

export const ReviewApplicationMutation = graphql(`
  mutation ReviewApplication($input: ReviewApplicationInput!) {
    reviewApplication(input: $input) {
      __typename
      ... on ApplicationChanged { applicationId status version }
      ... on Error { code message field }
    }
  }
`)

export const RecordPaperSeenMutation = graphql(`
  mutation RecordPaperSeen($input: RecordPaperSeenInput!) {
    recordPaperSeen(input: $input) {
      __typename
      ... on PaperRecordedPayload { applicationId consentRef outstandingMaterials { code name } }
      ... on Error { code message field }
    }
  }
`)

export const ApplicationMessagesQuery = graphql(`
  query ApplicationMessages($applicationId: ID!) {
    applicationMessages(applicationId: $applicationId) {
      __typename
      ... on SmsMessageList { messages { id template status statusLabel vendor phone createdAt sentAt deliveredAt reason } }
      ... on Error { code message field }
    }
  }
`)
