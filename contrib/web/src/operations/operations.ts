/** Background work that went wrong: failed SMS and dead-lettered jobs. */
import { graphql } from '../gql'

export const FailedWorkQuery = graphql(`
  query FailedWork {
    failedMessages(first: 50) {
      __typename
      ... on SmsMessageList { messages { id receiptNo template status statusLabel vendor attempts resends reason phone createdAt } }
      ... on Error { code message field }
    }
    deadJobs(first: 50) {
      __typename
      ... on JobList { jobs { id kind status attempts lastError createdAt finishedAt } }
      ... on Error { code message field }
    }
  }
`)

export const ResendMessageMutation = graphql(`
  mutation ResendMessage($input: ResendMessageInput!) {
    resendMessage(input: $input) {
      __typename
      ... on ResendMessageSuccess { sms { id status statusLabel } }
      ... on Error { code message field }
    }
  }
`)

export const RetryJobMutation = graphql(`
  mutation RetryJob($input: RetryJobInput!) {
    retryJob(input: $input) {
      __typename
      ... on RetryJobSuccess { jobId }
      ... on Error { code message field }
    }
  }
`)
