/**
 * Staff steps beyond review: counter intake, manual verification from originals, enrollment or
 * no-show, and the bureau's coordination (统筹) of a child no school on its list could take.
 */
import { graphql } from '../gql'

export const CreateCounterApplicationMutation = graphql(`
  mutation CreateCounterApplication($input: CreateCounterApplicationInput!) {
    createCounterApplication(input: $input) {
      __typename
      ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status version }
      ... on Error { code message field }
    }
  }
`)

export const RecordManualVerificationMutation = graphql(`
  mutation RecordManualVerification($input: RecordManualVerificationInput!) {
    recordManualVerification(input: $input) {
      __typename
      ... on ManualVerificationRecorded { applicationId receiptNo status version outstandingMaterials { code name } }
      ... on Error { code message field }
    }
  }
`)

export const ConfirmEnrollmentMutation = graphql(`
  mutation ConfirmEnrollment($input: EnrollmentInput!) {
    confirmEnrollment(input: $input) {
      __typename
      ... on EnrollmentChangedPayload { applicationId status version schoolCode noticeNo }
      ... on Error { code message field }
    }
  }
`)

export const RecordNoShowMutation = graphql(`
  mutation RecordNoShow($input: EnrollmentInput!) {
    recordNoShow(input: $input) {
      __typename
      ... on EnrollmentChangedPayload { applicationId status version schoolCode noticeNo }
      ... on Error { code message field }
    }
  }
`)

export const PlaceCoordinatedMutation = graphql(`
  mutation PlaceCoordinated($input: PlaceCoordinatedInput!) {
    placeCoordinated(input: $input) {
      __typename
      ... on EnrollmentChangedPayload { applicationId status version schoolCode noticeNo }
      ... on Error { code message field }
    }
  }
`)
