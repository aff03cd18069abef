// Placeholder dashboard: shows the backend's health. Text only, never HTML from the API.
const target = document.getElementById('health');

async function showHealth(): Promise<void> {
  if (!target) return;
  try {
    const response = await fetch('/health');
    const health = (await response.json()) as { ok: boolean; upstream: string; versions: { app: string } };
    target.textContent = `Backend ${health.ok ? 'healthy' : 'degraded'} · version ${health.versions.app} · upstream: ${health.upstream}`;
    if (health.upstream === 'simulated') {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'simulated data';
      target.append(' ', badge);
    }
  } catch {
    target.textContent = 'The backend did not answer.';
  }
}

void showHealth();
