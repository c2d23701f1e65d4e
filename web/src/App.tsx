import { createBrowserRouter, RouterProvider } from "react-router-dom";
import { Layout } from "@/components/Layout";
import { Message } from "@/components/Message";
import { DashboardPage } from "@/pages/DashboardPage";
import { LivePage } from "@/pages/LivePage";
import { RacesPage } from "@/pages/RacesPage";
import { ServicesPage } from "@/pages/ServicesPage";
import { TracePage } from "@/pages/TracePage";
import { TracesPage } from "@/pages/TracesPage";
import { VariablesPage } from "@/pages/VariablesPage";

const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: "/", element: <TracesPage /> },
      { path: "/dashboard", element: <DashboardPage /> },
      { path: "/traces/:id/:tab?", element: <TracePage /> },
      { path: "/races", element: <RacesPage /> },
      { path: "/variables/:name?", element: <VariablesPage /> },
      { path: "/services", element: <ServicesPage /> },
      { path: "/live", element: <LivePage /> },
      { path: "*", element: <Message>No such page.</Message> },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
