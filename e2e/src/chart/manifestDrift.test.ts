import YAML from 'yaml';
import {
  renderAgentValues,
  AGENT_DEFAULT_RELEASE,
} from '@spider/backstage-plugin-spider-common';
// eslint-disable-next-line @backstage/no-forbidden-package-imports, @backstage/no-mixed-plugin-imports -- the drift test compares the backend's own renderer with the chart
import { renderInstall } from '@spider/backstage-plugin-spider-backend/src/install/renderInstall';
import { helmBinary, template } from './helmChart';

jest.setTimeout(120_000);

const settings = {
  controlsUrl: 'https://portal.example.com/api/spider',
  chart: './controller-agent/chart',
};

function byKey(objects: any[], defaultNamespace: string) {
  return new Map(
    objects
      .filter(o => o && o.kind !== 'Namespace')
      .map(o => [
        `${o.kind}/${
          o.metadata.namespace ??
          (['ClusterRole', 'ClusterRoleBinding'].includes(o.kind)
            ? ''
            : defaultNamespace)
        }/${o.metadata.name}`,
        o,
      ]),
  );
}

describe.each([
  ['cluster-wide', [] as string[], [] as string[]],
  ['scoped', ['team-a', 'team-b', 'team-c'], ['team-c']],
])(
  "the portal's plain manifests match `helm template` (%s)",
  (_label, include, exclude) => {
    it('renders the same objects, RBAC, container and Service', async () => {
      const namespace = 'spider-system';
      const helm = await helmBinary();
      const chart = byKey(
        await template(
          helm,
          renderAgentValues({
            controlsUrl: settings.controlsUrl,
            token: 'spd_example',
            include,
            exclude,
          }),
          { release: AGENT_DEFAULT_RELEASE, namespace },
        ),
        namespace,
      );
      const rendered = renderInstall(settings, {
        controllerName: 'c',
        format: 'manifest',
        namespace,
        include,
        exclude,
      });
      const mine = byKey(
        YAML.parseAllDocuments(rendered.content).map(d => d.toJSON()),
        namespace,
      );

      expect([...mine.keys()].sort()).toEqual([...chart.keys()].sort());
      const roles = [...chart.keys()].filter(key =>
        /^(ClusterRole|Role)\//.test(key),
      );
      expect(roles.map(key => ({ key, rules: mine.get(key).rules }))).toEqual(
        roles.map(key => ({ key, rules: chart.get(key).rules })),
      );
      const bindings = [...chart.keys()].filter(key => /Binding\//.test(key));
      expect(
        bindings.map(key => ({
          key,
          roleRef: mine.get(key).roleRef,
          subjects: mine.get(key).subjects,
        })),
      ).toEqual(
        bindings.map(key => ({
          key,
          roleRef: chart.get(key).roleRef,
          subjects: chart
            .get(key)
            .subjects.map((s: any) => ({ ...s, namespace })),
        })),
      );
      // The same NetworkPolicy (the chart's default, metrics open to nobody).
      const nKey = `NetworkPolicy/${namespace}/${AGENT_DEFAULT_RELEASE}`;
      expect(mine.get(nKey).spec).toEqual(chart.get(nKey).spec);
      const dKey = `Deployment/${namespace}/${AGENT_DEFAULT_RELEASE}`;
      const chartPod = chart.get(dKey).spec.template.spec;
      const myPod = mine.get(dKey).spec.template.spec;
      expect(myPod.securityContext).toEqual(chartPod.securityContext);
      expect(myPod.serviceAccountName).toEqual(chartPod.serviceAccountName);
      expect(myPod.volumes).toEqual(chartPod.volumes);
      const [c] = chartPod.containers;
      const [m] = myPod.containers;
      for (const field of [
        'ports',
        'securityContext',
        'volumeMounts',
        'livenessProbe',
        'readinessProbe',
        'startupProbe',
        'resources',
      ]) {
        expect({ field, value: m[field] }).toEqual({ field, value: c[field] });
      }
      expect(m.image).toBe(c.image);
      // Same variables with the same values (the chart's defaults are the manifests' values).
      expect(m.env).toEqual(c.env);
      const sKey = `Service/${namespace}/${AGENT_DEFAULT_RELEASE}`;
      expect(mine.get(sKey).spec.ports).toEqual(chart.get(sKey).spec.ports);
      expect(mine.get(sKey).spec.selector).toEqual(
        chart.get(sKey).spec.selector,
      );
    });
  },
);
