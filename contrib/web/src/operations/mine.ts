/** The guardian's own applications: list, detail, trail, correction, withdrawal, uploads. */
import { graphql } from '../gql'

export const MyApplicationsQuery = graphql(`
  query MyApplications($after: String) {
    myApplications(first: 20, after: $after) {
      __typename
      ... on ApplicationConnection {
        edges { cursor node { id receiptNo status statusLabel childName schoolName updatedAt } }
        pageInfo { hasNextPage endCursor }
      }
      ... on Error { code message field }
    }
  }
`)

export const ApplicationFieldsFragment = graphql(`
  fragment ApplicationFields on Application {
    id receiptNo status statusLabel version channel townshipCode childName childIdNumber
    guardianName guardianPhone address schoolCode schoolName ageException createdAt updatedAt
    privateSchoolName primarySchoolCode
    consentRef
    evidence { source subject outcome outcomeLabel reason checkedAt sourceRecordId consentRef facts { name value } }
    assessment { round decision reasonCode reason category categoryName addressProvenBy schools corrections materials { code name } }
    outstandingMaterials { code name }
    reviews { step stepLabel decision comment reviewer at }
    materials { kind filename contentType size sha256 uploadedAt }
  }
`)

export const ApplicationQuery = graphql(`
  query Application($id: ID!) {
    application(id: $id) {
      __typename
      ...ApplicationFields
      ... on Error { code message field }
    }
  }
`)

export const AuditTrailQuery = graphql(`
  query AuditTrail($receiptNo: String!) {
    auditTrail(receiptNo: $receiptNo) {
      __typename
      ... on AuditTrail {
        receiptNo
        steps { at action actorRole actorRoleLabel actor fromStatus toStatus toStatusLabel comment }
      }
      ... on Error { code message field }
    }
  }
`)

export const CorrectApplicationMutation = graphql(`
  mutation CorrectApplication($input: CorrectApplicationInput!) {
    correctApplication(input: $input) {
      __typename
      ... on ApplicationChanged { applicationId status version }
      ... on Error { code message field }
    }
  }
`)

export const WithdrawApplicationMutation = graphql(`
  mutation WithdrawApplication($input: WithdrawApplicationInput!) {
    withdrawApplication(input: $input) {
      __typename
      ... on ApplicationChanged { applicationId status version }
      ... on Error { code message field }
    }
  }
`)

export const UploadMaterialMutation = graphql(`
  mutation UploadMaterial($input: UploadMaterialInput!) {
    uploadMaterial(input: $input) {
      __typename
      ... on MaterialUploadedPayload {
        applicationId
        material { kind filename contentType size sha256 uploadedAt }
        outstandingMaterials { code name }
      }
      ... on Error { code message field }
    }
  }
`)

export const ExplainPlacementQuery = graphql(`
  query ExplainPlacement($applicationId: ID!) {
    explainPlacement(applicationId: $applicationId) {
      __typename
      ... on PlacementResult { applicationId receiptNo schoolCode tier reserved reason explanation }
      ... on Error { code message field }
    }
  }
`)
