// Calico network policy: model, K8s conversion, and flow evaluation with traces.
export * from "./model.ts";
export { PolicySet, FlowError, DEFAULT_FAILSAFE } from "./policy-set.ts";
export type {
  PolicySetInput,
  Flow,
  FlowResult,
  DirectionResult,
  Decision,
  TraceStep,
  EndpointRef,
  Direction,
  FailsafePort,
  EvaluateOptions,
  RuleField,
  EndpointSummary,
  FlowAddress,
} from "./policy-set.ts";
export { PolicyInputError, defaultTypes, type Problem, type CompiledPolicy, type CompiledRule } from "./compile.ts";
export {
  k8sNetworkPolicyToCalico,
  k8sSelectorToCalico,
  k8sNamespaceLabels,
  namespaceToProfile,
  serviceAccountToProfile,
  serviceAccountProfileName,
  podToEndpoint,
  simplifyPorts,
  K8sConversionError,
  K8S_POLICY_NAME_PREFIX,
  K8S_POLICY_ORDER,
} from "./k8s-conversion.ts";
export type {
  K8sNetworkPolicy,
  K8sNetworkPolicyPeer,
  K8sNetworkPolicyPort,
  K8sNamespace,
  K8sServiceAccount,
  K8sPod,
  LabelSelector,
  LabelSelectorRequirement,
} from "./k8s-conversion.ts";
export { policyEndpointSelector, entityRuleSelector } from "./selectors.ts";
export { protocolNumber, protocolName, parsePort, formatPort, type PortMatch } from "./protocols.ts";
export { describeDecision, explainFlow, explainDirection } from "./explain.ts";
export { policyInputFromResources } from "./from-resources.ts";
